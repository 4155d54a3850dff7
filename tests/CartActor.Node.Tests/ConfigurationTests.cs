using System.Net.Sockets;
using CartActor.Node.Hosting;
using CartActor.Tests.Shared;

namespace CartActor.Node.Tests;

/// <summary>A bad setting stops start-up with a message that names it.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("abc")]
    [InlineData("70000")]
    [InlineData("-1")]
    public void AnInvalidPortIsRefusedNamingNodePort(string port)
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", port, "--http-port", "0"]));

        Assert.Contains("Node:Port", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--http-port", "abc" }, "Node:HttpPort")]
    [InlineData(new[] { "--bind", "not-an-address" }, "Node:Bind")]
    [InlineData(new[] { "--seeds", "peer-without-port" }, "Node:Seeds")]
    [InlineData(new[] { "--host", "bad host!" }, "Node:Host")]
    [InlineData(new[] { "--shards", "0" }, "Cart:ShardCount")]
    [InlineData(new[] { "--Cart:MaxQueueDepthPerShard", "0" }, "Cart:MaxQueueDepthPerShard")]
    [InlineData(new[] { "--Node:DrainDelay", "-00:00:01" }, "Node:DrainDelay")]
    [InlineData(new[] { "--Redis:WaitReplicas", "-1" }, "Redis:WaitReplicas")]
    [InlineData(new[] { "--Node:MaxPendingReplyBytes", "1000" }, "Node:MaxPendingReplyBytes")]
    [InlineData(new[] { "--Node:ReplyStallTimeout", "0s" }, "Node:ReplyStallTimeout")]
    [InlineData(new[] { "--Cluster:ForwardAttemptTimeout", "0s" }, "Cluster:ForwardAttemptTimeout")]
    [InlineData(new[] { "--Node:DrainDelay", "00:00:30", "--Node:ShutdownTimeout", "00:00:20" }, "Node:DrainDelay")]
    public void OtherInvalidSettingsAreRefusedByName(string[] args, string setting)
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", "0", "--http-port", "0", .. args]));

        Assert.Contains(setting, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("rocksdb")]
    public void ACluster_OnTheEmbeddedStore_IsRefusedNamingTheFix(string store)
    {
        string[] storeArgs = store.Length == 0 ? [] : ["--store", store];
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", "0", "--http-port", "0", "--seeds", "127.0.0.1:1", .. storeArgs]));

        Assert.Equal(
            "Node:Store (--store) 'rocksdb' keeps carts on this node's disk; a cluster (Node:Seeds) needs a shared store: --store redis://host:port",
            ex.Message);
    }

    [Theory]
    [InlineData("redis:/admin:s3cret-pw@127.0.0.1:6379")]
    [InlineData("127.0.0.1:6379,password=s3cret-pw")]
    [InlineData("redis://admin:s3cret-pw@127.0.0.1:1/not-a-db")]
    [InlineData("rediss://:s3cret-pw@127.0.0.1:1/x")]
    public void ABadStoreValue_IsRefusedWithoutRepeatingItsPassword(string store)
    {
        var ex = Assert.ThrowsAny<Exception>(() => NodeHost.Build(["--port", "0", "--http-port", "0", "--store", store]));

        Assert.Contains("Node:Store", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AMistypedStoreWithoutSecrets_IsRepeatedSoTheTypoShows()
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", "0", "--http-port", "0", "--store", "rocksbd"]));

        Assert.Contains("'rocksbd'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACluster_InMemory_Starts()
    {
        // Benchmarks only: it starts (and logs once that a cart changing owner starts empty).
        await using var node = await RunningNode.StartAsync(["--seeds", "127.0.0.1:9", "--store", "memory"]);
        Assert.Null(node.Get<CartRuntime>().Store);
    }

    [Fact]
    public async Task APortInUseFailsStartUpSayingSo()
    {
        await using var first = await RunningNode.StartAsync();
        await using var second = NodeHost.Build(["--port", first.GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--http-port", "0", "--host", "127.0.0.1"]);

        var ex = await Assert.ThrowsAsync<IOException>(() => second.StartAsync().WithTimeout());

        Assert.True(
            ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase),
            ex.ToString());
    }
}

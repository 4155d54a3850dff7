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
    public void OtherInvalidSettingsAreRefusedByName(string[] args, string setting)
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", "0", "--http-port", "0", .. args]));

        Assert.Contains(setting, ex.Message, StringComparison.Ordinal);
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

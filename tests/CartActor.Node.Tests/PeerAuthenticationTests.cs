using System.Diagnostics;
using CartActor.ControlPlane;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using CartActor.Tests.Shared;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Logging;
using Empty = CartActor.ControlPlane.Empty;

namespace CartActor.Node.Tests;

/// <summary>
/// Peers prove who they are: two nodes with the cluster key keep their cluster while an outsider's peer-only
/// calls and internal marks are refused (UNAUTHENTICATED without a key, PERMISSION_DENIED with a wrong one),
/// and a live member cannot be talked out of the ring.
/// </summary>
public sealed class PeerAuthenticationTests : IAsyncLifetime
{
    private const string Key = "k3y-for-the-tests-0123456789";
    private readonly string _keyFile = Path.Combine(Path.GetTempPath(), $"cartactor-key-{Guid.NewGuid():n}");
    private RunningNode _a = null!;
    private RunningNode _b = null!;

    public async Task InitializeAsync()
    {
        // The second node reads the same key from a file, as from a mounted Secret (with its trailing newline).
        await File.WriteAllTextAsync(_keyFile, Key + "\n");
        (_a, _b) = await TwoNodes.StartAsync(["--cluster-key", Key], ["--Cluster:KeyFile", _keyFile]);
        await TwoNodes.WaitForPairAsync(_a, _b, TimeSpan.FromSeconds(20));
    }

    public async Task DisposeAsync()
    {
        await _b.DisposeAsync();
        await _a.DisposeAsync();
        File.Delete(_keyFile);
    }

    public static TheoryData<string, Metadata?, StatusCode> Outsiders => new()
    {
        { "no key", null, StatusCode.Unauthenticated },
        { "wrong key", new Metadata { { PeerCredentials.KeyHeader, "not-the-key-0123456789" } }, StatusCode.PermissionDenied },
        { "key of another length", new Metadata { { PeerCredentials.KeyHeader, Key + "x" } }, StatusCode.PermissionDenied },
    };

    [Theory]
    [MemberData(nameof(Outsiders))]
    public async Task AnOutsidersPeerCallsAreRefusedWhileTheKeyedNodesKeepTheirCluster(string who, Metadata? headers, StatusCode expected)
    {
        var outsider = _a.Client;
        var ids = new[] { Carts.NewId(), Carts.NewId() };

        await AssertRefused(expected, who, outsider.ClosingAsync(new ClosingNotice { Host = _b.AdvertisedHost }, headers));
        await AssertRefused(expected, who, outsider.NegotiateAsync(new NegotiateRequest { KnownHosts = { "127.0.0.1:9" } }, headers));
        await AssertRefused(expected, who, outsider.AnnounceOwnershipAsync(new OwnershipAnnounce { Host = "127.0.0.1:9", Ids = { ids } }, headers));
        await AssertRefused(expected, who, outsider.AnnounceExpiryAsync(new ExpiryAnnounce { Host = _b.AdvertisedHost, Ids = { ids } }, headers));
        await AssertRefused(expected, who, outsider.GetLocalActorIdsAsync(new Empty(), headers));
        // The marks a peer adds: a forwarded hop (on Get and Apply), the sender.
        await AssertRefused(expected, who, outsider.GetAsync(new GetRequest { Id = ids[0] }, With(headers, ForwardingHeaders.Hop, "1")));
        await AssertRefused(expected, who, outsider.ApplyAsync(Carts.Apply(ids[0], Carts.Item("sku-a")), With(headers, ForwardingHeaders.Sender, _b.AdvertisedHost)));

        // The cluster is whole, now and a moment later (a Closing that got through came back only after ~8 s).
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.True(TwoNodes.IsPair(_a, _b) && TwoNodes.IsPair(_b, _a), $"{TwoNodes.Members(_a)} / {TwoNodes.Members(_b)}");
        Assert.Equal(_b.AdvertisedHost, (await _b.Client.PingAsync(new Empty()).WithTimeout()).Host);
    }

    [Fact]
    public async Task ClientCallsStayOpenAndAreServedAcrossTheKeyedCluster()
    {
        // Carts spread over both nodes: each Apply through A is served by its owner, forwarded with the key.
        var carts = Enumerable.Range(0, 24).Select(_ => Carts.NewId()).ToArray();
        foreach (var id in carts)
        {
            await _a.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-open"))).WithTimeout();
        }

        foreach (var id in carts)
        {
            var state = Carts.State(await _b.Client.GetAsync(new GetRequest { Id = id }).WithTimeout());
            Assert.Equal("sku-open", Assert.Single(state.Items).Sku);
        }

        Assert.Equal(_a.AdvertisedHost, (await _a.Client.PingAsync(new Empty()).WithTimeout()).Host);
        var health = await new Health.HealthClient(_a.Channel).CheckAsync(new HealthCheckRequest()).WithTimeout();
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        // Both nodes hold some of the carts: the forwarding between them carried the key.
        var onA = (await _a.Client.GetLocalActorIdsAsync(new Empty(), Keyed()).WithTimeout()).Ids;
        var onB = (await _b.Client.GetLocalActorIdsAsync(new Empty(), Keyed()).WithTimeout()).Ids;
        Assert.NotEmpty(carts.Intersect(onA));
        Assert.NotEmpty(carts.Intersect(onB));
    }

    [Fact]
    public async Task ClosingIsHonouredOnlyFromThePeerItNames()
    {
        // With the key, but sent by A's address about B: refused.
        var fromA = Keyed();
        fromA.Add(PeerCredentials.ClosingHostHeader, _a.AdvertisedHost);
        await AssertRefused(StatusCode.PermissionDenied, "a keyed third party", _a.Client.ClosingAsync(new ClosingNotice { Host = _b.AdvertisedHost }, fromA));

        // With the key and a forged sender: B still answers its pings as healthy, so it is not closing.
        var forged = Keyed();
        forged.Add(PeerCredentials.ClosingHostHeader, _b.AdvertisedHost);
        await AssertRefused(StatusCode.FailedPrecondition, "a forged sender", _a.Client.ClosingAsync(new ClosingNotice { Host = _b.AdvertisedHost }, forged));
        Assert.True(TwoNodes.IsPair(_a, _b));

        // B itself closing (a graceful stop): A removes it at once, well inside the dead-after time.
        var stopped = Stopwatch.StartNew();
        await _b.StopAsync();
        while (TwoNodes.IsPair(_a, _b))
        {
            Assert.True(stopped.Elapsed < TimeSpan.FromSeconds(5), $"A still lists B {stopped.Elapsed} after B's Closing");
            await Task.Delay(20);
        }
    }

    private static Metadata Keyed() => new() { { PeerCredentials.KeyHeader, Key } };

    private static Metadata With(Metadata? headers, string name, string value)
    {
        var all = new Metadata();
        foreach (var entry in headers ?? [])
        {
            all.Add(entry);
        }

        all.Add(name, value);
        return all;
    }

    private static async Task AssertRefused<T>(StatusCode expected, string who, AsyncUnaryCall<T> call)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.WithTimeout());
        Assert.True(expected == ex.StatusCode, $"{who}: expected {expected}, got {ex.StatusCode}: {ex.Status.Detail}");
        Assert.DoesNotContain(Key, ex.Status.Detail, StringComparison.Ordinal);
    }
}

/// <summary>The key's settings: checked at start, named in the message, never echoed.</summary>
public sealed class ClusterKeySettingsTests
{
    [Theory]
    [InlineData("short")]
    [InlineData("has a space in it 0123456789")]
    public void ABadKeyStopsStartUpNamingTheSettingNotTheValue(string key)
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", "0", "--http-port", "0", "--store", "memory", "--cluster-key", key]));

        Assert.Contains("Cluster:Key (--cluster-key)", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingKeyFileStopsStartUpNamingIt()
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", "0", "--http-port", "0", "--store", "memory", "--Cluster:KeyFile", "/nonexistent/cluster-key"]));

        Assert.Contains("Cluster:KeyFile", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANodeWithSeedsAndNoKeyStartsAndWarnsOnceThatItsControlPlaneIsOpen()
    {
        var lines = new LogLines();
        await using var node = await RunningNode.StartAsync(["--store", "memory", "--seeds", "127.0.0.1:9"], b => b.Logging.AddProvider(lines));

        Assert.Single(lines.Messages, m => m.Contains("control plane is open", StringComparison.Ordinal));
    }
}

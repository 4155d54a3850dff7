using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using System.Diagnostics;

namespace CartActor.Node.Tests;

/// <summary>Negotiate answers with this node plus the hosts it learnt that answer (its healthy hosts).</summary>
public sealed class NegotiateTests
{
    [Fact]
    public async Task ALearntHostIsReturnedOnceItAnswersAndAnUnreachableOneNever()
    {
        // Memory stores: a node on its own disk (RocksDB, the default) serves alone and learns no peers.
        string[] fastPings = ["--Cluster:PingInterval", "00:00:00.100", "--Cluster:PingTimeout", "00:00:00.500", "--store", "memory"];
        await using var node = await RunningNode.StartAsync(fastPings);
        await using var peer = await RunningNode.StartAsync(fastPings);
        const string Unreachable = "127.0.0.1:9";

        var first = await node.Client.NegotiateAsync(new NegotiateRequest { KnownHosts = { peer.AdvertisedHost, Unreachable } }).WithTimeout();
        Assert.Equal(node.AdvertisedHost, first.Hosts[0]);

        var learnt = first;
        var waited = Stopwatch.StartNew();
        while (!learnt.Hosts.Contains(peer.AdvertisedHost) && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50);
            learnt = await node.Client.NegotiateAsync(new NegotiateRequest()).WithTimeout();
        }

        Assert.Equal([node.AdvertisedHost, peer.AdvertisedHost], learnt.Hosts);
        Assert.DoesNotContain(Unreachable, first.Hosts);
    }

    [Fact]
    public async Task ANodeOnItsOwnDiskLearnsNoPeerAndRefusesToBeCountedAsOne()
    {
        await using var alone = await RunningNode.StartAsync();
        await using var peer = await RunningNode.StartAsync(["--store", "memory", "--Cluster:PingInterval", "00:00:00.100"]);

        await alone.Client.NegotiateAsync(new NegotiateRequest { KnownHosts = { peer.AdvertisedHost } }).WithTimeout();
        await peer.Client.NegotiateAsync(new NegotiateRequest { KnownHosts = { alone.AdvertisedHost } }).WithTimeout();
        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Equal([alone.AdvertisedHost], (await alone.Client.NegotiateAsync(new NegotiateRequest()).WithTimeout()).Hosts);
        Assert.Equal([peer.AdvertisedHost], (await peer.Client.NegotiateAsync(new NegotiateRequest()).WithTimeout()).Hosts);

        // A plain Ping (a client's liveness probe) is still answered; a peer's membership probe is refused.
        Assert.Equal(alone.AdvertisedHost, (await alone.Client.PingAsync(new Empty()).WithTimeout()).Host);
        var refused = await GrpcTestExtensions.AssertStatusAsync(
            Grpc.Core.StatusCode.FailedPrecondition,
            alone.Client.PingAsync(new Empty(), new Grpc.Core.Metadata { { "x-cart-sender", peer.AdvertisedHost } }));
        Assert.Contains("--store", refused.Status.Detail, StringComparison.Ordinal);
    }
}

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
        string[] fastPings = ["--Cluster:PingInterval", "00:00:00.100", "--Cluster:PingTimeout", "00:00:00.500"];
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
}

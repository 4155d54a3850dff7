using System.Diagnostics;
using CartActor.Node.Membership;
using CartActor.Tests.Shared;

namespace CartActor.Node.Tests;

/// <summary>The cluster as /metrics shows it: members by state and the ring's changes.</summary>
public sealed class ClusterMetricsTests
{
    [Fact]
    public async Task MembersByStateAndRingChangesAreExported()
    {
        // Memory stores: a node on its own disk (RocksDB, the default) serves alone and learns no peers.
        string[] fastPings = ["--Cluster:PingInterval", "100ms", "--Cluster:PingTimeout", "500ms", "--store", "memory"];
        await using var first = await RunningNode.StartAsync(fastPings);
        var alone = await first.ScrapeAsync();
        Assert.Equal(1, alone["cartactor_members{state=\"alive\"}"]);
        Assert.Equal(0, alone["cartactor_members{state=\"suspect\"}"]);

        await using var second = await RunningNode.StartAsync([.. fastPings, "--seeds", first.AdvertisedHost]);
        var waited = Stopwatch.StartNew();
        while (first.Get<ClusterView>().Ring.Members.Count < 2 && waited.Elapsed < TestTimeouts.Default)
        {
            await Task.Delay(50);
        }

        var joined = await first.ScrapeAsync();
        Assert.Equal(2, joined["cartactor_members{state=\"alive\"}"]);
        Assert.True(joined["cartactor_ring_changes_total"] > alone["cartactor_ring_changes_total"], "the join is a ring change");
        Assert.True(joined["cartactor_ring_epoch"] > alone["cartactor_ring_epoch"]);
    }
}

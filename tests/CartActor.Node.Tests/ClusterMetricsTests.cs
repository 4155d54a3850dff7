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
        while ((first.Get<ClusterView>().Ring.Members.Count < 2 || second.Get<ClusterView>().Ring.Members.Count < 2 || !second.Get<ClusterMembership>().IsJoined)
               && waited.Elapsed < TestTimeouts.Default)
        {
            await Task.Delay(50);
        }

        var joined = await first.ScrapeAsync();
        Assert.Equal(2, joined["cartactor_members{state=\"alive\"}"]);
        Assert.True(joined["cartactor_ring_changes_total"] > alone["cartactor_ring_changes_total"], "the join is a ring change");
        Assert.True(joined["cartactor_ring_epoch"] > alone["cartactor_ring_epoch"]);
        Assert.Equal(1, joined["cartactor_readiness{reason=\"ready\"}"]);
        Assert.Equal(0, joined["cartactor_readiness{reason=\"draining\"}"]);
        Assert.Equal(0, joined["cartactor_drain_idle_seconds"]);

        // A call for a cart the second node owns is forwarded there by the first, and counted as a forward.
        var remote = Enumerable.Range(1, 1000).Select(i => (ulong)(700_000 + i))
            .First(id => first.Get<ClusterView>().Ring.OwnerOf(id) == second.AdvertisedHost.ToLowerInvariant());
        await first.Client.ApplyAsync(Carts.Apply(remote, Carts.Item("sku-a"))).WithTimeout();
        var forwarded = await first.ScrapeAsync();
        Assert.Equal(1, forwarded["cartactor_forwards_total{outcome=\"OK\"}"] - joined["cartactor_forwards_total{outcome=\"OK\"}"]);
        // Retries are counted from zero (a refusal while the views settle would be one of them).
        Assert.True(forwarded.ContainsKey("cartactor_entry_retries_total{reason=\"refused\"}"));
        Assert.Equal(1, (await second.ScrapeAsync())["cartactor_active_carts"]);
    }
}

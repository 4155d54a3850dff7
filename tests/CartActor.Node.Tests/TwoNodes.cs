using System.Diagnostics;
using CartActor.Node.Membership;
using Microsoft.AspNetCore.Builder;

namespace CartActor.Node.Tests;

/// <summary>Two real nodes on loopback that form one cluster (the second seeded with the first).</summary>
internal static class TwoNodes
{
    // Memory stores: a cluster with seeds needs a shared store or none, and these tests need neither.
    public static readonly string[] FastPings = ["--store", "memory", "--Cluster:PingInterval", "00:00:00.200", "--Cluster:PingTimeout", "00:00:00.500"];

    public static async Task<(RunningNode First, RunningNode Second)> StartAsync(
        string[] firstArgs,
        string[] secondArgs,
        Action<WebApplicationBuilder>? customizeFirst = null,
        Action<WebApplicationBuilder>? customizeSecond = null)
    {
        var first = await RunningNode.StartAsync([.. FastPings, .. firstArgs], customizeFirst);
        try
        {
            var second = await RunningNode.StartAsync([.. FastPings, "--seeds", first.AdvertisedHost, .. secondArgs], customizeSecond);
            return (first, second);
        }
        catch
        {
            await first.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until both nodes list both as healthy members; fails after <paramref name="within"/>.</summary>
    public static async Task WaitForPairAsync(RunningNode first, RunningNode second, TimeSpan within)
    {
        var waited = Stopwatch.StartNew();
        while (!(IsPair(first, second) && IsPair(second, first)))
        {
            Assert.True(waited.Elapsed < within, $"no two-node cluster after {within}: {Members(first)} / {Members(second)}");
            await Task.Delay(50);
        }
    }

    public static bool IsPair(RunningNode node, RunningNode other) =>
        node.Get<ClusterMembership>().HealthyHosts().Contains(other.AdvertisedHost);

    public static string Members(RunningNode node) => string.Join(",", node.Get<ClusterMembership>().HealthyHosts());
}

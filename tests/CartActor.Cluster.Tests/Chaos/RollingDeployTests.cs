using CartActor.Tests.Shared.Redis;
using Xunit.Abstractions;

namespace CartActor.Cluster.Tests.Chaos;

/// <summary>
/// What a Kubernetes rolling deployment and a scale-out/in do to a cluster on Redis, under continuous load from
/// 16 clients that only call ready nodes: each node leaves the clients' routing about 1 s before its SIGTERM
/// (a Service with a preStop hook), is restarted on the same ports, and takes traffic again once /readyz says so.
/// Nothing acknowledged may be lost or applied twice, every node must answer the same state, and no request fails.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class RollingDeployTests(ITestOutputHelper output)
{
    private static readonly TimeSpan PreStop = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Progress = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("standalone")]
    [InlineData("cluster")]
    public async Task RollingRestartOfThreeNodesUnderLoadLosesNothingAndFailsNoRequest(string topology)
    {
        using var redis = Redis(topology);
        await using var cluster = await ProcessCluster.StartAsync(3, redis.ConnectionString);
        var load = new ChaosLoad(cluster.Nodes);
        using var stop = new CancellationTokenSource();
        var run = load.RunAsync(stop.Token);
        try
        {
            load.Phase = "steady";
            await load.WaitForAcknowledgementsAsync(300, Progress);
            foreach (var node in cluster.Nodes)
            {
                load.Phase = $"restart {node.AdvertisedHost}";
                await TerminateAsync(load, node);
                await node.RestartAsync(ProcessCluster.StartTimeout);
                load.Mark($"restarted {node.AdvertisedHost}");
                load.Route(node);
                await cluster.WaitForMembersAsync(cluster.Nodes);
                await load.WaitForAcknowledgementsAsync(300, Progress);
            }

            load.Phase = "after";
            await load.RunForAsync(TimeSpan.FromSeconds(2), 300, Progress);
        }
        finally
        {
            await ChaosLoad.StopAsync(stop, run);
        }

        var report = await ChaosVerification.VerifyAsync(load, cluster.Nodes);
        Finish(report, cluster);
        report.AssertConsistent();
        Assert.True(report.Failures.Count == 0, $"{report.Failures.Count} requests failed\n{report}\n{cluster.Logs()}");
    }

    [Fact]
    public async Task ScalingFromThreeToFiveAndBackUnderLoadLosesNothingAndFailsNoRequest()
    {
        using var redis = new RedisServerFixture();
        await using var cluster = await ProcessCluster.StartAsync(3, redis.ConnectionString);
        var load = new ChaosLoad(cluster.Nodes);
        using var stop = new CancellationTokenSource();
        var run = load.RunAsync(stop.Token);
        try
        {
            load.Phase = "steady";
            await load.WaitForAcknowledgementsAsync(300, Progress);

            load.Phase = "scale out";
            var added = await cluster.AddNodesAsync(2);
            foreach (var node in added)
            {
                load.Route(node);
            }

            await cluster.WaitForMembersAsync(cluster.Nodes);
            load.Phase = "five nodes";
            await load.WaitForAcknowledgementsAsync(300, Progress);

            load.Phase = "scale in";
            foreach (var node in added)
            {
                await TerminateAsync(load, node);
            }

            await cluster.WaitForMembersAsync([.. cluster.Nodes.Take(3)]);
            load.Phase = "three nodes";
            await load.RunForAsync(TimeSpan.FromSeconds(2), 300, Progress);
        }
        finally
        {
            await ChaosLoad.StopAsync(stop, run);
        }

        var report = await ChaosVerification.VerifyAsync(load, [.. cluster.Nodes.Take(3)]);
        Finish(report, cluster);
        report.AssertConsistent();
        Assert.True(report.Failures.Count == 0, $"{report.Failures.Count} requests failed\n{report}\n{cluster.Logs()}");
    }

    internal static IRedisTopology Redis(string topology) =>
        topology == "cluster" ? new RedisClusterFixture() : new RedisServerFixture();

    /// <summary>preStop: out of the clients' routing, a second's wait, then SIGTERM and a clean exit.</summary>
    private static async Task TerminateAsync(ChaosLoad load, NodeProcess node)
    {
        load.Unroute(node);
        await Task.Delay(PreStop);
        load.Mark($"SIGTERM {node.AdvertisedHost}");
        var exitCode = await node.TerminateAsync(ExitTimeout);
        load.Mark($"exited {node.AdvertisedHost} ({exitCode})");
        Assert.True(exitCode == 0, $"{node.AdvertisedHost} exited with {exitCode} after SIGTERM:\n{node.Output}");
    }

    private void Finish(ChaosReport report, ProcessCluster cluster)
    {
        report.WriteTo(output);
        if (report.Failures.Count > 0 || report.Lost + report.Duplicated + report.DivergentCarts > 0)
        {
            output.WriteLine(cluster.Logs(tailLines: 200));
        }
    }
}

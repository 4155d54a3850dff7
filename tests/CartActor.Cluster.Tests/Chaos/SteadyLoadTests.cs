using CartActor.Tests.Shared.Redis;
using Xunit.Abstractions;

namespace CartActor.Cluster.Tests.Chaos;

/// <summary>
/// The chaos harness on a quiet cluster: three node processes on a Redis Cluster (three masters), 16 clients,
/// no fault. The baseline every fault scenario is measured against, and the proof that a cluster of nodes
/// runs on a Redis Cluster at all (carts spread over every master's slots).
/// </summary>
[Trait("Category", "Chaos")]
public sealed class SteadyLoadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ThreeNodesOnARedisClusterAgreeOnEveryCartAndKeepEveryAcknowledgedLineOnce()
    {
        using var redis = new RedisClusterFixture();
        await using var cluster = await ProcessCluster.StartAsync(3, redis.ConnectionString);
        var load = new ChaosLoad(cluster.Nodes) { ReadAfterWrite = true };
        using var stop = new CancellationTokenSource();
        var run = load.RunAsync(stop.Token);
        try
        {
            load.Phase = "steady";
            await load.WaitForAcknowledgementsAsync(600, TimeSpan.FromSeconds(30));
        }
        finally
        {
            await ChaosLoad.StopAsync(stop, run);
        }

        var report = await ChaosVerification.VerifyAsync(load, cluster.Nodes);
        report.WriteTo(output);
        report.AssertConsistent();
        Assert.True(report.StaleReads == 0, $"{report.StaleReads} reads through another node missed an acknowledged line\n{report}");
        var mastersHolding = redis.Ports.Count(port => RespCommand.Send(port, "DBSIZE") != ":0");
        Assert.True(mastersHolding == 3, $"the carts landed on {mastersHolding} of 3 masters");
    }
}

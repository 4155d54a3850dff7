using CartActor.Tests.Shared.Redis;
using Xunit.Abstractions;

namespace CartActor.Cluster.Tests.Chaos;

/// <summary>
/// A node crashing (SIGKILL) or freezing (SIGSTOP past the dead-after time, then SIGCONT) under load from 16
/// clients, on Redis. The clients keep calling a node until its /readyz stops answering 200 (a Service's
/// readiness probe), so calls to the lost node fail; calls through the others must not, once it is routed around.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class NodeFailureTests(ITestOutputHelper output)
{
    /// <summary>The test timers' dead-after time (TestCluster.FastTimers).</summary>
    private static readonly TimeSpan DeadAfter = TimeSpan.FromSeconds(3);

    /// <summary>
    /// From a kill until the survivors route around the node: suspect after 3 missed 200 ms pings of 500 ms
    /// timeout (about 1.1 s), with room for a loaded 2-core machine. A call through a survivor that starts later fails the test.
    /// </summary>
    private static readonly TimeSpan RoutedAroundWithin = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan Progress = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ASigkilledNodeLosesNothingAndOnlyCallsToItFail()
    {
        using var redis = new RedisServerFixture();
        await using var cluster = await ProcessCluster.StartAsync(3, redis.ConnectionString);
        var victim = cluster.Nodes[2];
        NodeProcess[] survivors = [cluster.Nodes[0], cluster.Nodes[1]];
        var load = new ChaosLoad(cluster.Nodes);
        using var stop = new CancellationTokenSource();
        var run = load.RunAsync(stop.Token);
        TimeSpan killedAt;
        try
        {
            load.Phase = "steady";
            await load.WaitForAcknowledgementsAsync(300, Progress);

            load.Phase = "killed";
            killedAt = load.Now;
            await victim.KillAsync();
            load.Mark($"SIGKILL {victim.AdvertisedHost}");
            await cluster.WaitForMembersAsync(survivors);
            load.Mark("survivors agree");

            load.Phase = "after";
            await load.RunForAsync(DeadAfter, 300, Progress);
        }
        finally
        {
            await ChaosLoad.StopAsync(stop, run);
        }

        var report = await ChaosVerification.VerifyAsync(load, survivors);
        Finish(report, cluster);
        report.AssertConsistent();
        var late = report.Failures.Where(f => f.Node != victim.AdvertisedHost && f.Started > killedAt + RoutedAroundWithin).ToList();
        Assert.True(late.Count == 0, $"{late.Count} calls through survivors failed after the victim should have been routed around (killed at {killedAt.TotalSeconds:F2}s):\n{string.Join("\n", late.Take(10))}\n{report}");
        // A call in flight to the victim when it died may fail; one that ended before the kill had no reason to.
        var beforeKill = report.Failures.Where(f => f.Ended < killedAt).ToList();
        Assert.True(beforeKill.Count == 0, $"{beforeKill.Count} calls failed before the kill:\n{string.Join("\n", beforeKill.Take(10))}");
    }

    [Fact]
    public async Task ANodePausedForTwiceTheDeadAfterTimeForksNothingAndNoReadGoesBackInTime()
    {
        using var redis = new RedisServerFixture();
        await using var cluster = await ProcessCluster.StartAsync(3, redis.ConnectionString);
        var victim = cluster.Nodes[1];
        var load = new ChaosLoad(cluster.Nodes) { ReadAfterWrite = true };
        using var stop = new CancellationTokenSource();
        var run = load.RunAsync(stop.Token);
        try
        {
            load.Phase = "steady";
            await load.WaitForAcknowledgementsAsync(300, Progress);

            load.Phase = "paused";
            await victim.PauseAsync();
            load.Mark($"SIGSTOP {victim.AdvertisedHost}");
            await Task.Delay(DeadAfter * 2);

            load.Phase = "resumed";
            await victim.ResumeAsync();
            load.Mark($"SIGCONT {victim.AdvertisedHost}");
            await cluster.WaitForMembersAsync(cluster.Nodes);
            load.Mark("all agree");
            await load.RunForAsync(DeadAfter, 300, Progress);
        }
        finally
        {
            await ChaosLoad.StopAsync(stop, run);
        }

        var report = await ChaosVerification.VerifyAsync(load, cluster.Nodes);
        Finish(report, cluster);
        report.AssertConsistent();
        Assert.True(report.StaleReads == 0, $"{report.StaleReads} reads answered a state older than an acknowledged write\n{report}");
    }

    private void Finish(ChaosReport report, ProcessCluster cluster)
    {
        report.WriteTo(output);
        if (report.Lost + report.Duplicated + report.DivergentCarts + report.StaleReads > 0)
        {
            output.WriteLine(cluster.Logs(tailLines: 200));
        }
    }
}

using System.Diagnostics;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using CartActor.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Tests;

/// <summary>
/// The node's one heartbeat (the membership loop) drives its timed work: idle carts leave memory and the
/// retention sweep repeats, with no timer or loop of their own; and a step that throws costs that step, not the node.
/// </summary>
public sealed class HeartbeatTests
{
    private const int RetentionSweptEventId = 6;
    private const int HeartbeatStepFailedEventId = 117;

    [Fact]
    public async Task IdleCartsLeaveMemoryAndRetentionSweepsRepeatOnTheHeartbeat()
    {
        var logs = new CapturedLogs();
        await using var node = await RunningNode.StartAsync(
            ["--idle-ttl", "300ms", "--Cart:SweepInterval", "200ms", "--Node:RetentionSweepInterval", "500ms", "--Cluster:PingInterval", "200ms"],
            b =>
            {
                b.Configuration["Logging:LogLevel:CartActor.Node.Hosting.RetentionSweeper"] = nameof(LogLevel.Information);
                b.Logging.AddProvider(logs);
            });

        await node.Client.ApplyAsync(Carts.Apply(Carts.NewId(), Carts.Item("idle")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var metrics = await node.ScrapeAsync();
            var idleEvictions = metrics.GetValueOrDefault("cartactor_evictions_total{reason=\"idle_ttl\"}");
            var sweeps = logs.Lines.Count(l => l.EventId.Id == RetentionSweptEventId && l.Category.EndsWith("RetentionSweeper", StringComparison.Ordinal));
            if (idleEvictions >= 1 && metrics.GetValueOrDefault("cartactor_active_carts") == 0 && sweeps >= 3)
            {
                return;
            }

            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(15), $"after {waited.Elapsed}: {idleEvictions} idle evictions, {sweeps} retention sweeps");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task AHeartbeatStepThatThrowsIsLoggedAndTheNodeKeepsBeatingAndServingUntilStopped()
    {
        var logs = new CapturedLogs();
        var failing = new CountingDuty(fail: true);
        var after = new CountingDuty(fail: false);
        var node = await RunningNode.StartAsync(
            ["--Cluster:PingInterval", "100ms"],
            b =>
            {
                b.Logging.AddProvider(logs);
                b.Services.AddSingleton<IHeartbeatDuty>(failing);
                b.Services.AddSingleton<IHeartbeatDuty>(after);
            });
        await using (node)
        {
            var waited = Stopwatch.StartNew();
            while (failing.Calls < 3 || after.Calls < 3)
            {
                Assert.True(waited.Elapsed < TestTimeouts.Default, $"after {waited.Elapsed}: the failing duty ran {failing.Calls} times, the one after it {after.Calls}");
                await Task.Delay(50);
            }

            // Still running: the host was not stopped by the exception, and it still answers.
            Assert.False(node.Get<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested, "the heartbeat's exception stopped the host");
            var membership = node.Get<ClusterMembership>();
            Assert.False(membership.ExecuteTask!.IsCompleted, $"the heartbeat loop ended: {membership.ExecuteTask.Status}");
            await node.Client.ApplyAsync(Carts.Apply(Carts.NewId(), Carts.Item("beat")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
            var failures = logs.Lines.Where(l => l.EventId.Id == HeartbeatStepFailedEventId).ToList();
            Assert.NotEmpty(failures);
            Assert.All(failures, l => Assert.Contains(nameof(CountingDuty), l.Message, StringComparison.Ordinal));
            var report = membership.Describe();
            Assert.Matches(@"step failures=([3-9]|\d{2,}) \(last: CountingDuty: ObjectDisposedException: ", report);

            // Shutdown still ends the loop.
            await node.StopAsync();
            await membership.ExecuteTask.WithTimeout();
        }
    }

    /// <summary>A duty that counts its beats and, when asked to, breaks its never-throw rule on every one (a channel disposed under it).</summary>
    private sealed class CountingDuty(bool fail) : IHeartbeatDuty
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void OnHeartbeat()
        {
            Interlocked.Increment(ref _calls);
            if (fail)
            {
                throw new ObjectDisposedException("peer channel");
            }
        }
    }
}

using System.Diagnostics;
using CartActor.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Tests;

/// <summary>
/// The node's one heartbeat (the membership loop) drives its timed work: idle carts leave memory and the
/// retention sweep repeats, with no timer or loop of their own.
/// </summary>
public sealed class HeartbeatTests
{
    private const int RetentionSweptEventId = 6;

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
}

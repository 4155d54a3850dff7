using System.Diagnostics;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using Grpc.Core;

namespace CartActor.Cluster.Tests.Chaos;

/// <summary>
/// The cluster's dependence on its shared store, seen from outside: a stalled Redis must not make one
/// mutation count twice, a cluster must not start on a node-local store, and a node is ready only while
/// it can reach Redis.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class SharedStoreTests
{
    /// <summary>Past the node's Redis timeout (2 s, RedisStoreOptions.Timeout): the write in flight times out, then lands.</summary>
    private static readonly TimeSpan RedisPause = TimeSpan.FromMilliseconds(3500);

    [Fact]
    public async Task AKeylessApplyIssuedWhileRedisIsPausedPastTheWriteTimeoutIsAppliedExactlyOnce()
    {
        using var redis = new RedisServerFixture();
        await using var cluster = await ProcessCluster.StartAsync(2, redis.ConnectionString);
        var entry = cluster.Nodes[0];
        var other = cluster.Nodes[1];

        // Warm carts through the entry node, then find one it owns (a direct call) and one the other owns (forwarded).
        for (ulong id = 1; id <= 32; id++)
        {
            await ApplyAsync(entry, id, "warm").WithTimeout();
        }

        var ownedByOther = (await other.Client.GetLocalActorIdsAsync(new Empty()).ResponseAsync.WithTimeout()).Ids.ToHashSet();
        var forwarded = Enumerable.Range(1, 32).Select(i => (ulong)i).First(ownedByOther.Contains);
        var direct = Enumerable.Range(1, 32).Select(i => (ulong)i).First(id => !ownedByOther.Contains(id));

        redis.Pause(RedisPause);
        var clock = Stopwatch.StartNew();
        var forwardedCall = Outcome(ApplyAsync(entry, forwarded, "during-pause"));
        var directCall = Outcome(ApplyAsync(entry, direct, "during-pause"));
        var outcomes = await Task.WhenAll(forwardedCall, directCall).WithTimeout();
        var answeredAfter = clock.Elapsed;
        // Read once Redis serves again (the pause ends on the server's clock), with a second to spare.
        var rest = RedisPause - clock.Elapsed + TimeSpan.FromSeconds(1);
        await Task.Delay(rest > TimeSpan.Zero ? rest : TimeSpan.Zero);

        foreach (var (cart, outcome) in new[] { (forwarded, outcomes[0]), (direct, outcomes[1]) })
        {
            foreach (var node in cluster.Nodes)
            {
                var state = TestCluster.State(await node.Client.GetAsync(new GetRequest { Id = cart }, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync.WithTimeout());
                var quantity = state.Items.Where(i => i.Sku == "during-pause").Sum(i => i.Quantity);
                Assert.True(
                    quantity == 1,
                    $"cart {cart} ({(cart == forwarded ? "forwarded" : "direct")}) read through {node.AdvertisedHost} holds the AddItem {quantity} times; " +
                    $"the call answered {outcome} after {answeredAfter.TotalSeconds:F1} s\n{cluster.Logs()}");
            }
        }
    }

    [Fact]
    public async Task ANodeWithSeedsOnTheEmbeddedStoreRefusesToStartNamingTheFix()
    {
        await using var node = NodeProcess.Launch(0, 0, "--seeds", $"127.0.0.1:{NodeProcess.FreePort()}", "--store", "rocksdb");

        var exitCode = await node.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.NotEqual(0, exitCode);
        var lines = node.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Count(l => l.Contains("--store redis://", StringComparison.Ordinal)) == 1, $"expected one line naming --store redis://...:\n{node.Output}");
    }

    [Fact]
    public async Task ANodeWhoseRedisIsDownIsNotReadyAndRecoversByItself()
    {
        using var redis = new RedisServerFixture();
        await using var cluster = await ProcessCluster.StartAsync(2, redis.ConnectionString);

        redis.Kill();
        foreach (var node in cluster.Nodes)
        {
            await UntilReadyzAsync(node, 503, TimeSpan.FromSeconds(15), cluster);
        }

        redis.Start();
        foreach (var node in cluster.Nodes)
        {
            await UntilReadyzAsync(node, 200, TimeSpan.FromSeconds(30), cluster);
        }

        // Ready again means serving again: a write through each node is acknowledged.
        foreach (var node in cluster.Nodes)
        {
            Assert.Equal(StatusCode.OK, await Outcome(ApplyAsync(node, 99, $"after-{node.GrpcPort}")).WithTimeout());
        }
    }

    private static async Task UntilReadyzAsync(NodeProcess node, int status, TimeSpan within, ProcessCluster cluster)
    {
        var clock = Stopwatch.StartNew();
        int? last;
        while ((last = await node.ReadyzAsync()) != status)
        {
            Assert.True(clock.Elapsed < within, $"{node.AdvertisedHost}'s /readyz answered {last?.ToString() ?? "nothing"}, not {status}, for {within}\n{cluster.Logs()}");
            await Task.Delay(100);
        }
    }

    private static Task<ApplyResult> ApplyAsync(NodeProcess entry, ulong cart, string sku)
    {
        var request = new ApplyRequest { Id = cart };
        request.Messages.Add(TestCluster.Add(sku));
        return entry.Client.ApplyAsync(request, deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync;
    }

    private static async Task<StatusCode> Outcome(Task<ApplyResult> call)
    {
        try
        {
            var result = await call;
            Assert.False(result.Mutations[0].HasError, result.Mutations[0].Error);
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }
}

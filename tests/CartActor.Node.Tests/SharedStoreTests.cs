using System.Diagnostics;
using System.Net;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;

namespace CartActor.Node.Tests;

/// <summary>
/// A node on a real Redis: a store failure whose outcome is unknown is the node's problem, not the client's,
/// and a store that is away makes the node not ready until it is back.
/// </summary>
[Trait("Category", "Redis")]
public sealed class SharedStoreTests
{
    [Fact]
    public async Task AKeylessApply_WhoseWriteTimedOutWhileRedisWasPaused_IsAppliedExactlyOnce()
    {
        using var redis = new RedisServerFixture();
        await using var node = await RunningNode.StartAsync(["--store", redis.ConnectionString]);
        var id = Carts.NewId();
        await node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("first"))).WithTimeout();

        // Paused past the store's 2 s timeout: the write goes out, times out, and Redis runs it afterwards.
        redis.Pause(TimeSpan.FromMilliseconds(3500));
        var took = Stopwatch.StartNew();
        var applied = await node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("once")), deadline: DateTime.UtcNow.AddSeconds(10)).WithTimeout();
        took.Stop();

        Assert.True(took.Elapsed > TimeSpan.FromSeconds(2), $"the Apply returned after {took.Elapsed}: Redis was not paused");
        var state = Carts.State(applied);
        Assert.Equal(["first", "once"], state.Items.Select(i => i.Sku));
        Assert.Equal(1, state.Items[1].Quantity);
        Assert.Equal(2UL, state.Version);

        // What Redis holds agrees, read through a fresh load.
        await node.Get<CartRuntime>().EvictAllAsync().WithTimeout();
        var stored = Carts.State(await node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout());
        Assert.Equal(state.Items, stored.Items);
        Assert.Equal(2UL, stored.Version);
    }

    [Fact]
    public async Task ANodeWhoseStoreIsDown_IsNotReadySayingWhy_AndRecoversByItself()
    {
        using var redis = new RedisServerFixture();
        await using var node = await RunningNode.StartAsync(["--store", redis.ConnectionString, "--Cluster:PingInterval", "00:00:00.100"]);
        Assert.Equal(HttpStatusCode.OK, (await node.Http.GetAsync("/readyz").WithTimeout()).StatusCode);

        redis.Kill();
        await WaitForReadyzAsync(node, HttpStatusCode.ServiceUnavailable, "store unavailable");

        redis.Start();
        await WaitForReadyzAsync(node, HttpStatusCode.OK, "ready");
        var id = Carts.NewId();
        var applied = await node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("back")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Equal("back", Assert.Single(Carts.State(applied).Items).Sku);
    }

    private static async Task WaitForReadyzAsync(RunningNode node, HttpStatusCode status, string body)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            using var response = await node.Http.GetAsync("/readyz").WithTimeout();
            var text = await response.Content.ReadAsStringAsync().WithTimeout();
            if (response.StatusCode == status && text == body)
            {
                return;
            }

            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"/readyz still {(int)response.StatusCode} '{text}', waiting for {(int)status} '{body}'");
            await Task.Delay(100);
        }
    }
}

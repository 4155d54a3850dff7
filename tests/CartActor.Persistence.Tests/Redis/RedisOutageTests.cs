using System.Diagnostics;
using CartActor.Persistence.Redis;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using Xunit.Abstractions;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>
/// Redis dying under a running node and coming back on the same port. The server is append-only with
/// fsync always, so, like a production Redis for this store, it restarts holding every write it acknowledged.
/// </summary>
[Trait("Category", "Redis")]
public sealed class RedisOutageTests : IClassFixture<DurableRedisServerFixture>
{
    // The store's timeout is 2 s; a failure must come well within that plus scheduling noise on a 2-core box.
    private static readonly TimeSpan Quickly = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(30);

    private readonly DurableRedisServerFixture _redis;
    private readonly ITestOutputHelper _output;
    private TimeSpan _slowestUnavailable;

    public RedisOutageTests(DurableRedisServerFixture redis, ITestOutputHelper output)
    {
        _redis = redis;
        _output = output;
        if (!_redis.IsRunning)
        {
            _redis.Start();
        }
    }

    [Fact]
    public async Task Redis_going_away_answers_StoreUnavailable_quickly_and_the_runtime_recovers_after_it_returns()
    {
        using var store = _redis.CreateStore();
        await using var runtime = RedisRuntime.Create(store);
        var acknowledged = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            await runtime.ApplyOnceAsync(1, $"before-{i}");
            acknowledged.Add($"before-{i}");
        }

        await runtime.ApplyOnceAsync(2, "other");

        _redis.Kill();

        // A live cart's write fails; a cart that must be loaded fails; neither hangs, neither crashes anything.
        for (var i = 0; i < 5; i++)
        {
            await AssertUnavailableQuicklyAsync(() => runtime.ApplyOnceAsync(1, $"during-{i}"));
            await AssertUnavailableQuicklyAsync(() => runtime.ApplyOnceAsync(3, $"during-{i}"));
            await AssertUnavailableQuicklyAsync(async () => (await runtime.GetAsync(4).WithTimeout()).Dispose());
        }

        _redis.Start();
        var state = await ApplyUntilRecoveredAsync(runtime, 1, "after");
        acknowledged.Add("after");

        Assert.Equal(acknowledged, state.Items.Select(item => item.Sku));
        Assert.Equal((ulong)acknowledged.Count, state.Version);
        Assert.Equal(acknowledged, store.Load(1)!.State.Items.Select(item => item.Sku));
        Assert.Equal(2UL, (await runtime.ApplyOnceAsync(2, "other-after")).Version);
        Assert.Equal(1UL, (await runtime.ApplyOnceAsync(3, "new-after")).Version);
    }

    [Fact]
    public async Task A_node_starts_while_redis_is_down_and_serves_once_redis_is_up()
    {
        _redis.Kill();
        RedisCartStore store;
        var connecting = Stopwatch.StartNew();
        try
        {
            store = _redis.CreateStore();
        }
        finally
        {
            connecting.Stop();
        }

        using (store)
        {
            Assert.InRange(connecting.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(10));
            Assert.False(store.IsConnected);
            await using var runtime = RedisRuntime.Create(store);

            await AssertUnavailableQuicklyAsync(() => runtime.ApplyOnceAsync(1, "down"));
            var loadError = Assert.Throws<CartStoreException>(() => store.Load(1));
            Assert.Equal(CartStoreError.Unavailable, loadError.Error);
            var writeError = await Assert.ThrowsAsync<CartStoreException>(async () =>
                await store.WriteAsync([new CartWrite(1, RedisRecords.Cart(1, 1, "x"), 0)]).WithTimeout());
            Assert.Equal(CartStoreError.Unavailable, writeError.Error);

            _redis.Start();
            var state = await ApplyUntilRecoveredAsync(runtime, 1, "up");

            Assert.Equal(1UL, state.Version);
        }
    }

    private async Task AssertUnavailableQuicklyAsync(Func<Task> action)
    {
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<CartRuntimeException>(action);
        clock.Stop();

        Assert.Equal(CartRequestError.StoreUnavailable, error.Error);
        Assert.True(error.IsRetryable);
        Assert.True(clock.Elapsed < Quickly, $"StoreUnavailable took {clock.Elapsed.TotalMilliseconds:F0} ms");
        if (clock.Elapsed > _slowestUnavailable)
        {
            _slowestUnavailable = clock.Elapsed;
        }
    }

    /// <summary>Retries like a client until the store takes writes again; fails if that takes longer than the deadline.</summary>
    private async Task<CartActor.Cart.Messages.CartState> ApplyUntilRecoveredAsync(CartRuntime runtime, ulong cartId, string sku)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var state = await runtime.ApplyOnceAsync(cartId, sku);
                _output.WriteLine($"slowest StoreUnavailable {_slowestUnavailable.TotalMilliseconds:F1} ms; applied again {clock.Elapsed.TotalMilliseconds:F0} ms after redis-server was restarted");
                return state;
            }
            catch (CartRuntimeException ex) when (ex.IsRetryable && clock.Elapsed < RecoveryDeadline)
            {
                await Task.Delay(100);
            }
        }
    }
}

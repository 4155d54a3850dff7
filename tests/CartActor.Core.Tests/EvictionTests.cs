using Microsoft.Extensions.Time.Testing;

namespace CartActor.Core.Tests;

/// <summary>
/// Carts leave memory after an idle TTL and, above the capacity limit, least recently used first; the
/// observer receives each one's final record. Time is a <see cref="FakeTimeProvider"/>.
/// </summary>
public sealed class EvictionTests
{
    private static readonly TimeSpan IdleTtl = TimeSpan.FromMinutes(10);
    private readonly FakeTimeProvider _time = new();
    private readonly RecordingObserver _observer = new();

    [Fact]
    public async Task AnIdleCart_IsEvictedAfterTheTtl_AndTheObserverGetsItsRecord()
    {
        await using var runtime = CreateRuntime();
        await runtime.ApplyKeyedAndReadAsync(1, "key-1", AddItem("a", quantity: 2), AddItem("b"), RemoveItem(2));

        _time.Advance(IdleTtl - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await runtime.SweepIdleAsync().WithTimeout());
        Assert.True(runtime.IsActive(1));

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, await runtime.SweepIdleAsync().WithTimeout());

        var eviction = await _observer.NextEvictionAsync();
        Assert.Equal(1UL, eviction.CartId);
        Assert.Equal(EvictionReason.IdleTtl, eviction.Reason);
        Assert.Equal(1UL, eviction.Record.State.Id);
        Assert.Equal(3UL, eviction.Record.State.Version);
        Assert.Equal("a", Assert.Single(eviction.Record.State.Items).Sku);
        Assert.Equal(3u, eviction.Record.NextItemId);
        Assert.Equal("key-1", Assert.Single(eviction.Record.Idempotency).Key);
        Assert.False(runtime.IsActive(1));
        Assert.Equal(0, runtime.ActiveCarts);
        Assert.Empty(runtime.GetLocalCartIds());
    }

    [Fact]
    public async Task AfterEviction_GetReadsAnEmptyVersionZeroCart()
    {
        await using var runtime = CreateRuntime();
        await runtime.ApplyOkAsync(1, AddItem("a"));
        _time.Advance(IdleTtl + TimeSpan.FromSeconds(1));
        await runtime.SweepIdleAsync().WithTimeout();

        var state = runtime.ReadState(1);

        Assert.Equal(1UL, state.Id);
        Assert.Equal(0UL, state.Version);
        Assert.Empty(state.Items);
        Assert.Equal(CartStatus.Open, state.Status);
        Assert.False(runtime.IsActive(1));
        Assert.Null(await runtime.ExportAsync(1).WithTimeout());
    }

    [Fact]
    public async Task TheSweepTimer_EvictsIdleCartsWithoutBeingAsked()
    {
        await using var runtime = CreateRuntime(o => o.SweepInterval = TimeSpan.FromSeconds(10));
        await runtime.ApplyOkAsync(1, AddItem("a"));

        _time.Advance(IdleTtl - TimeSpan.FromSeconds(15));
        Assert.True(runtime.IsActive(1));
        Assert.Empty(_observer.Evicted);

        _time.Advance(TimeSpan.FromSeconds(30));
        var eviction = await _observer.NextEvictionAsync();

        Assert.Equal(1UL, eviction.CartId);
        Assert.Equal(EvictionReason.IdleTtl, eviction.Reason);
        Assert.False(runtime.IsActive(1));
    }

    [Fact]
    public async Task GetsAndApplies_KeepACartAlive()
    {
        await using var runtime = CreateRuntime();
        await runtime.ApplyOkAsync(1, AddItem("read"));
        await runtime.ApplyOkAsync(2, AddItem("written"));
        await runtime.ApplyOkAsync(3, AddItem("forgotten"));

        _time.Advance(IdleTtl * 0.6);
        runtime.Get(1).Dispose();
        await runtime.ApplyOkAsync(2, AddItem("written"));
        _time.Advance(IdleTtl * 0.6);

        Assert.Equal(1, await runtime.SweepIdleAsync().WithTimeout());
        Assert.Equal(3UL, (await _observer.NextEvictionAsync()).CartId);
        Assert.Equal([1UL, 2UL], runtime.GetLocalCartIds().Order());
        Assert.Equal(1UL, runtime.ReadState(1).Version);

        // The Get above is itself a touch; both go once idle for a full TTL.
        _time.Advance(IdleTtl);
        Assert.Equal(2, await runtime.SweepIdleAsync().WithTimeout());
        Assert.Equal(0, runtime.ActiveCarts);
    }

    [Fact]
    public async Task AboveCapacity_TheLeastRecentlyUsedCartGoesFirst()
    {
        await using var runtime = CreateRuntime(o => { o.ShardCount = 1; o.MaxActiveCarts = 3; });
        foreach (var cartId in new ulong[] { 1, 2, 3 })
        {
            await runtime.ApplyOkAsync(cartId, AddItem($"sku-{cartId}"));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        await runtime.ApplyOkAsync(1, AddItem("again")); // 1 is now the most recently used; 2 the least
        _time.Advance(TimeSpan.FromSeconds(1));
        await runtime.ApplyOkAsync(4, AddItem("sku-4"));

        var first = await _observer.NextEvictionAsync();
        Assert.Equal(2UL, first.CartId);
        Assert.Equal(EvictionReason.Capacity, first.Reason);
        Assert.Equal("sku-2", Assert.Single(first.Record.State.Items).Sku);
        Assert.Equal([1UL, 3UL, 4UL], runtime.GetLocalCartIds().Order());
        Assert.Equal(3, runtime.ActiveCarts);

        _time.Advance(TimeSpan.FromSeconds(1));
        await runtime.ApplyOkAsync(5, AddItem("sku-5"));

        Assert.Equal(3UL, (await _observer.NextEvictionAsync()).CartId);
        Assert.Equal([1UL, 4UL, 5UL], runtime.GetLocalCartIds().Order());
        Assert.Equal(2, runtime.ReadState(1).Items.Count);
    }

    [Fact]
    public async Task AboveCapacity_ARecentGetSparesACart()
    {
        await using var runtime = CreateRuntime(o => { o.ShardCount = 1; o.MaxActiveCarts = 2; });
        await runtime.ApplyOkAsync(1, AddItem("a"));
        _time.Advance(TimeSpan.FromSeconds(1));
        await runtime.ApplyOkAsync(2, AddItem("b"));
        _time.Advance(TimeSpan.FromSeconds(1));

        runtime.Get(1).Dispose(); // 1 was written first but read last
        _time.Advance(TimeSpan.FromSeconds(1));
        await runtime.ApplyOkAsync(3, AddItem("c"));

        var eviction = await _observer.NextEvictionAsync();
        Assert.Equal(2UL, eviction.CartId);
        Assert.Equal(EvictionReason.Capacity, eviction.Reason);
        Assert.Equal([1UL, 3UL], runtime.GetLocalCartIds().Order());
    }

    [Fact]
    public async Task EvictAll_EvictsEveryCartWithTheGivenReason()
    {
        await using var runtime = CreateRuntime(o => o.ShardCount = 4);
        for (ulong cartId = 1; cartId <= 20; cartId++)
        {
            await runtime.ApplyOkAsync(cartId, AddItem("a"));
        }

        Assert.Equal(20, await runtime.EvictAllAsync().WithTimeout());

        Assert.Equal(0, runtime.ActiveCarts);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), _observer.Evicted.Select(e => e.CartId).Order());
        Assert.All(_observer.Evicted, e => Assert.Equal(EvictionReason.Shutdown, e.Reason));
    }

    private CartRuntime CreateRuntime(Action<CartRuntimeOptions>? configure = null) =>
        TestRuntime.Create(
            o =>
            {
                o.IdleTtl = IdleTtl;
                o.SweepInterval = TimeSpan.FromDays(1); // only the timer test lets the timer fire
                configure?.Invoke(o);
            },
            _time,
            _observer);
}

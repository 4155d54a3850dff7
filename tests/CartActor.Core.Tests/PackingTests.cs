using CartActor.Packing;
using Microsoft.Extensions.Time.Testing;

namespace CartActor.Core.Tests;

/// <summary>
/// The state goes out as an <see cref="Google.Protobuf.WellKnownTypes.Any"/> over a pooled buffer, encoded
/// once per version. A buffer may go back to the pool only after the last holder (the grain, a Get lease,
/// an Apply outcome) has let go: a reply still being written must never read bytes a newer version reuses.
/// </summary>
public sealed class PackingTests : IAsyncLifetime
{
    private const ulong CartId = 31;
    private readonly FakeTimeProvider _time = new();
    private readonly CartRuntime _runtime;

    public PackingTests()
    {
        _runtime = TestRuntime.Create(o => o.SweepInterval = TimeSpan.FromDays(1), _time);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task TheStateIsAnAnyOfCartState_ForLiveAndUntouchedCarts()
    {
        using var outcome = await _runtime.ApplyAsync(CartId, [AddItem("a")]).WithTimeout();
        using var live = _runtime.Get(CartId);
        using var untouched = _runtime.Get(CartId + 1);

        Assert.Equal("type.googleapis.com/cart_messages.CartState", PackedState.CartStateTypeUrl);
        Assert.Equal(PackedState.CartStateTypeUrl, outcome.Result.State.TypeUrl);
        Assert.Equal(PackedState.CartStateTypeUrl, live.State.TypeUrl);
        Assert.Equal(PackedState.CartStateTypeUrl, untouched.State.TypeUrl);
        Assert.True(live.State.Is(CartState.Descriptor));
        var record = await _runtime.ExportAsync(CartId).WithTimeout();
        Assert.Equal(record!.State, live.State.Unpack<CartState>());
    }

    [Fact]
    public async Task GetsOfAnUnchangedCart_ReturnTheSameEncodedState()
    {
        using (var applied = await _runtime.ApplyAsync(CartId, [AddItem("a", quantity: 2)]).WithTimeout())
        using (var first = _runtime.Get(CartId))
        using (var second = _runtime.Get(CartId))
        {
            Assert.Same(first.State, second.State);
            Assert.Same(applied.Result.State, first.State);
        }

        using var before = _runtime.Get(CartId);
        // A batch that changes nothing (a no-op and a refusal) keeps the cached encoding too.
        using (var unchanged = await _runtime.ApplyAsync(CartId, [ChangeQuantity(1, 2), RemoveItem(9)]).WithTimeout())
        {
            Assert.Same(before.State, unchanged.Result.State);
        }

        using (var changed = await _runtime.ApplyAsync(CartId, [ChangeQuantity(1, 3)]).WithTimeout())
        using (var after = _runtime.Get(CartId))
        {
            Assert.NotSame(before.State, after.State);
            Assert.Same(changed.Result.State, after.State);
            Assert.Equal(2UL, after.Version);
        }
    }

    [Fact]
    public async Task ALeasedBuffer_StaysOutOfThePoolUntilTheLastLeaseIsReleased()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));
        var firstLease = _runtime.Get(CartId);
        var secondLease = _runtime.Get(CartId);
        var packed = PackedStateAccess.Of(firstLease);
        var expected = firstLease.State.Unpack<CartState>();

        // Newer versions replace it in the grain and rent more buffers from the same pool meanwhile.
        for (var i = 0; i < 20; i++)
        {
            await _runtime.ApplyOkAsync(CartId, AddItem($"newer-{i}"));
        }

        Assert.False(packed.IsReturnedToPool);
        Assert.Equal(expected, firstLease.State.Unpack<CartState>());

        firstLease.Dispose();
        Assert.False(packed.IsReturnedToPool);
        Assert.Equal(expected, secondLease.State.Unpack<CartState>());

        secondLease.Dispose();
        Assert.True(packed.IsReturnedToPool);
    }

    [Fact]
    public async Task TheCurrentVersion_StaysOutOfThePoolWhileTheGrainHoldsIt()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));
        var lease = _runtime.Get(CartId);
        var packed = PackedStateAccess.Of(lease);

        lease.Dispose();
        Assert.False(packed.IsReturnedToPool);

        await _runtime.ApplyOkAsync(CartId, AddItem("b"));
        Assert.True(packed.IsReturnedToPool);
    }

    [Fact]
    public async Task AnApplyOutcome_HoldsItsStateUntilDisposed()
    {
        var outcome = await _runtime.ApplyAsync(CartId, [AddItem("a")]).WithTimeout();
        var packed = PackedStateAccess.Of(outcome);
        var expected = outcome.Result.State.Unpack<CartState>();

        await _runtime.ApplyOkAsync(CartId, AddItem("b"));
        await _runtime.ApplyOkAsync(CartId, AddItem("c"));

        Assert.False(packed.IsReturnedToPool);
        Assert.Equal(expected, outcome.Result.State.Unpack<CartState>());
        outcome.Dispose();
        Assert.True(packed.IsReturnedToPool);
    }

    [Fact]
    public async Task ALeaseHeldAcrossEviction_StaysValidUntilReleased()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));
        var lease = _runtime.Get(CartId);
        var packed = PackedStateAccess.Of(lease);
        var otherCart = _runtime.Get(CartId + 1);

        _time.Advance(_runtime.Options.IdleTtl + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await _runtime.SweepIdleAsync().WithTimeout());

        Assert.False(packed.IsReturnedToPool);
        Assert.Equal("a", Assert.Single(lease.State.Unpack<CartState>().Items).Sku);
        lease.Dispose();
        Assert.True(packed.IsReturnedToPool);
        otherCart.Dispose();
    }

    [Fact]
    public async Task EvictionWithoutLeases_ReturnsTheBufferAtOnce()
    {
        var outcome = await _runtime.ApplyAsync(CartId, [AddItem("a")]).WithTimeout();
        var packed = PackedStateAccess.Of(outcome);
        outcome.Dispose();

        await _runtime.EvictAllAsync().WithTimeout();

        Assert.True(packed.IsReturnedToPool);
    }

    [Fact]
    public void TheLeaseOfAnUntouchedCart_ReturnsItsBufferOnRelease()
    {
        var lease = _runtime.Get(CartId);
        var packed = PackedStateAccess.Of(lease);
        Assert.False(packed.IsReturnedToPool);

        lease.Dispose();

        Assert.True(packed.IsReturnedToPool);
    }

    [Fact]
    public void PackedState_CountsReferences_AndRefusesNewOnesOnceReleased()
    {
        var state = new CartState { Id = 3, Version = 4, Currency = "EUR" };
        var packed = PackedState.Pack(state);

        Assert.Equal(4UL, packed.Version);
        Assert.Equal(state.CalculateSize(), packed.Length);
        Assert.Equal(state, packed.Any.Unpack<CartState>());
        Assert.True(packed.TryAcquire());
        packed.Release();
        Assert.False(packed.IsReturnedToPool);
        packed.Release();
        Assert.True(packed.IsReturnedToPool);
        Assert.False(packed.TryAcquire());
    }

    [Fact]
    public void PackedState_OfAnEmptyState_IsValid()
    {
        var packed = PackedState.Pack(new CartState());

        Assert.Equal(0, packed.Length);
        Assert.Equal(new CartState(), packed.Any.Unpack<CartState>());
        packed.Release();
        Assert.True(packed.IsReturnedToPool);
    }
}

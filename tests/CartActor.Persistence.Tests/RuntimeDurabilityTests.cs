using CartActor.Cart.Messages;
using CartActor.Persistence.RocksDb;
using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using static CartActor.Persistence.Tests.Support.RuntimeDriving;

namespace CartActor.Persistence.Tests;

/// <summary>
/// The real <see cref="CartRuntime"/> writing through the embedded store: what a caller was told survives a
/// restart, an eviction and a retention sweep of other carts.
/// </summary>
public sealed class RuntimeDurabilityTests : IDisposable
{
    private const ulong CartId = 4_242;
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private RocksDbCartStore Open(DurabilityMode mode = DurabilityMode.Fsync) =>
        RocksDbCartStore.Open(new RocksDbStoreOptions { Path = _directory.Path, Mode = mode });

    [Theory]
    [InlineData(DurabilityMode.Fsync)]
    [InlineData(DurabilityMode.Os)]
    public async Task AnAcknowledgedApply_SurvivesARestart_AndItsIdempotencyKeyStillReplays(DurabilityMode mode)
    {
        Applied first;
        using (var store = Open(mode))
        {
            var runtime = CreateRuntime(store);
            first = await runtime.ApplyAsync(CartId, "add-mug-1", AddItem("mug", quantity: 2));
            await runtime.DisposeWithTimeoutAsync();
        }

        using var reopened = Open(mode);
        var restarted = CreateRuntime(reopened);
        try
        {
            var state = await restarted.ReadStateAsync(CartId);
            Assert.Equal(first.State, state);
            Assert.Equal(2, Assert.Single(state.Items).Quantity);

            var repeat = await restarted.ApplyAsync(CartId, "add-mug-1", AddItem("mug", quantity: 2));

            Assert.True(repeat.IsReplay);
            Assert.Equal(first.Result, repeat.Result);
            Assert.Equal(first.State, await restarted.ReadStateAsync(CartId));

            // The id counters came back too: the next line gets a new id.
            var next = await restarted.ApplyAsync(CartId, "add-cup-1", AddItem("cup"));
            Assert.Equal(new uint[] { 1, 2 }, next.State.Items.Select(i => i.Id));
        }
        finally
        {
            await restarted.DisposeWithTimeoutAsync();
        }
    }

    [Fact]
    public async Task EveryAcknowledgedApply_OfManyConcurrentCallers_IsThereAfterARestart()
    {
        const int Carts = 40;
        const int AppliesPerCart = 10;
        using (var store = Open())
        {
            var runtime = CreateRuntime(store);
            var callers = Enumerable.Range(1, Carts).Select(cart => Task.Run(async () =>
            {
                for (var i = 0; i < AppliesPerCart; i++)
                {
                    await runtime.ApplyAsync((ulong)cart, $"k-{i}", AddItem("sku"));
                }
            }));
            await Task.WhenAll(callers).WithTimeout();
            await runtime.DisposeWithTimeoutAsync();
        }

        using var reopened = Open();
        var restarted = CreateRuntime(reopened);
        try
        {
            for (ulong cart = 1; cart <= Carts; cart++)
            {
                var state = await restarted.ReadStateAsync(cart);
                Assert.Equal((ulong)AppliesPerCart, state.Version);
                Assert.Equal(AppliesPerCart, Assert.Single(state.Items).Quantity);
            }
        }
        finally
        {
            await restarted.DisposeWithTimeoutAsync();
        }
    }

    [Fact]
    public async Task AnEvictedCart_IsReloadedFromTheStore()
    {
        using var store = Open();
        var runtime = CreateRuntime(store);
        try
        {
            var first = await runtime.ApplyAsync(CartId, null, AddItem("mug"));
            await runtime.EvictAllAsync().WithTimeout();
            Assert.False(runtime.IsActive(CartId));

            Assert.Equal(first.State, await runtime.ReadStateAsync(CartId));
            var second = await runtime.ApplyAsync(CartId, null, AddItem("mug"));
            Assert.Equal(2UL, second.State.Version);
            Assert.Equal(2UL, store.Load(CartId)!.State.Version);
        }
        finally
        {
            await runtime.DisposeWithTimeoutAsync();
        }
    }

    [Fact]
    public async Task ACartDroppedOnARingChange_ComesBackFromTheStoreWithItsHistoryAndKeys()
    {
        using var store = Open();
        var runtime = CreateRuntime(store);
        try
        {
            var first = await runtime.ApplyAsync(CartId, "add-mug", AddItem("mug"));
            await runtime.ApplyAsync(CartId + 1, null, AddItem("cup"));

            // The ring moved CartId away: only it leaves memory, and its record stays where it was written.
            Assert.Equal(1, await runtime.EvictWhereAsync(id => id == CartId, EvictionReason.NotOwned).WithTimeout());
            Assert.False(runtime.IsActive(CartId));
            Assert.True(runtime.IsActive(CartId + 1));
            Assert.Equal(1UL, store.Load(CartId)!.State.Version);

            // Touched again (the ring gave it back): loaded from the store, keys included.
            var repeat = await runtime.ApplyAsync(CartId, "add-mug", AddItem("mug"));
            Assert.True(repeat.IsReplay);
            Assert.Equal(first.State, await runtime.ReadStateAsync(CartId));
        }
        finally
        {
            await runtime.DisposeWithTimeoutAsync();
        }
    }

    [Fact]
    public async Task ACorruptRecord_FailsThatCartWithAClearError_WhileOthersServe()
    {
        using (var store = Open())
        {
            var runtime = CreateRuntime(store);
            await runtime.ApplyAsync(CartId, null, AddItem("mug"));
            await runtime.ApplyAsync(CartId + 1, null, AddItem("cup"));
            await runtime.DisposeWithTimeoutAsync();
        }

        RawRocksDb.Put(_directory.Path, CartId, "not a cart"u8.ToArray());
        using var reopened = Open();
        var restarted = CreateRuntime(reopened);
        try
        {
            var read = await Assert.ThrowsAsync<CartRuntimeException>(() => restarted.ReadStateAsync(CartId));
            var apply = await Assert.ThrowsAsync<CartRuntimeException>(() => restarted.ApplyAsync(CartId, null, AddItem("mug")));

            Assert.Equal(CartRequestError.Corrupt, read.Error);
            Assert.Equal(CartRequestError.Corrupt, apply.Error);
            Assert.Contains($"cart {CartId}", read.Message, StringComparison.Ordinal);
            Assert.Equal("cup", Assert.Single((await restarted.ReadStateAsync(CartId + 1)).Items).Sku);
        }
        finally
        {
            await restarted.DisposeWithTimeoutAsync();
        }
    }

    [Fact]
    public async Task TheRetentionSweep_ForgetsCartsUntouchedForTheRetentionPeriod_Only()
    {
        var clock = new WallClock(DateTimeOffset.FromUnixTimeSeconds(1_767_225_600)); // 2026-01-01
        var retention = TimeSpan.FromDays(30);
        using (var store = Open())
        {
            var runtime = CreateRuntime(store, clock);
            await runtime.ApplyAsync(CartId, null, AddItem("abandoned"));
            clock.Now += TimeSpan.FromDays(40);
            await runtime.ApplyAsync(CartId + 1, null, AddItem("recent"));

            Assert.Equal(1, await store.DeleteOlderThanAsync(clock.GetUtcNow() - retention, CancellationToken.None).WithTimeout());
            await runtime.DisposeWithTimeoutAsync();
        }

        using var reopened = Open();
        var restarted = CreateRuntime(reopened, clock);
        try
        {
            var forgotten = await restarted.ReadStateAsync(CartId);
            Assert.Equal(0UL, forgotten.Version);
            Assert.Empty(forgotten.Items);
            Assert.Equal("recent", Assert.Single((await restarted.ReadStateAsync(CartId + 1)).Items).Sku);
        }
        finally
        {
            await restarted.DisposeWithTimeoutAsync();
        }
    }
}

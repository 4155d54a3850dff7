namespace CartActor.Core.Tests;

/// <summary>Carts become live on their first Apply; reading an untouched cart answers without activating it.</summary>
public sealed class ActivationTests : IAsyncLifetime
{
    private readonly RecordingObserver _observer = new();
    private readonly CartRuntime _runtime;

    public ActivationTests()
    {
        _runtime = TestRuntime.Create(observer: _observer);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task GetOfAnUntouchedCart_IsEmptyOpenVersionZero_AndDoesNotActivateIt()
    {
        var state = _runtime.ReadState(123);

        Assert.Equal(123UL, state.Id);
        Assert.Equal(0UL, state.Version);
        Assert.Equal(CartStatus.Open, state.Status);
        Assert.Empty(state.Items);
        Assert.Empty(state.Deliveries);
        Assert.Empty(state.Vouchers);
        Assert.Equal(0, state.TotalPrice);
        Assert.Equal("EUR", state.Currency);
        Assert.Equal(0, _runtime.ActiveCarts);
        Assert.False(_runtime.IsActive(123));
        Assert.Empty(_runtime.GetLocalCartIds());
        Assert.Empty(_observer.Activated);
        Assert.Null(await _runtime.ExportAsync(123).WithTimeout());
    }

    [Fact]
    public async Task GetAsync_ReadsLikeGet()
    {
        await _runtime.ApplyOkAsync(5, AddItem("a"));

        using var live = await _runtime.GetAsync(5).WithTimeout();
        using var untouched = await _runtime.GetAsync(6).WithTimeout();

        Assert.Equal(1UL, live.State.Unpack<CartState>().Version);
        Assert.Equal(6UL, untouched.State.Unpack<CartState>().Id);
        Assert.Equal(0UL, untouched.Version);
    }

    [Fact]
    public void ReadingManyUntouchedCarts_DoesNotGrowThePool()
    {
        for (ulong cartId = 1; cartId <= 5000; cartId++)
        {
            using var lease = _runtime.Get(cartId);
            Assert.Equal(0UL, lease.Version);
        }

        Assert.Equal(0, _runtime.ActiveCarts);
        Assert.Empty(_observer.Activated);
    }

    [Fact]
    public async Task TheFirstApply_ActivatesTheCartOnce()
    {
        await _runtime.ApplyOkAsync(5, AddItem("a"));
        await _runtime.ApplyOkAsync(5, AddItem("b"));
        await _runtime.ApplyOkAsync(6, AddItem("a"));

        Assert.Equal([5UL, 6UL], _observer.Activated);
        Assert.Equal(2, _runtime.ActiveCarts);
        Assert.True(_runtime.IsActive(5));
        Assert.Equal([5UL, 6UL], _runtime.GetLocalCartIds().Order());
        Assert.Equal(2UL, _runtime.ReadState(5).Version);
    }
}

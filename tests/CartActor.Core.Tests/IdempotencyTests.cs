using System.Collections.Concurrent;
using CartActor.Cart.Messages;
using CartActor.Core.Tests.Support;
using CartActor.Tests.Shared;
using static CartActor.Core.Tests.Support.Mutations;

namespace CartActor.Core.Tests;

/// <summary>A repeated idempotency key replays the first result and applies nothing; each cart remembers its last 128 keys.</summary>
public sealed class IdempotencyTests : IAsyncLifetime
{
    private const ulong CartId = 41;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task ARepeatedKey_ReplaysTheFirstResult_AndAppliesNothing()
    {
        var first = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a", quantity: 2));
        var repeat = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a", quantity: 2));

        Assert.False(first.IsReplay);
        Assert.True(repeat.IsReplay);
        Assert.Equal(first.Result, repeat.Result);
        var state = _runtime.ReadState(CartId);
        Assert.Equal(1UL, state.Version);
        Assert.Equal(2, Assert.Single(state.Items).Quantity);
    }

    [Fact]
    public async Task ARepeatedKey_ReplaysEvenWhenTheMutationsDiffer()
    {
        var first = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a"));
        var repeat = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("b"), ClearCart());

        Assert.True(repeat.IsReplay);
        Assert.Equal(first.Result, repeat.Result);
        Assert.Equal(["a"], _runtime.ReadState(CartId).Items.Select(i => i.Sku));
    }

    [Fact]
    public async Task AReplay_KeepsTheFirstErrors_AndTheStateFirstReturned()
    {
        var first = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a"), RemoveItem(9));
        await _runtime.ApplyOkAsync(CartId, AddItem("b"), AddItem("c"));

        var repeat = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a"), RemoveItem(9));

        Assert.True(repeat.IsReplay);
        Assert.True(repeat[1].HasError);
        Assert.Contains("no item with id 9", repeat[1].Error, StringComparison.Ordinal);
        Assert.Equal(1UL, repeat.State.Version);
        Assert.Equal(first.State, repeat.State);
        Assert.Equal(3UL, _runtime.ReadState(CartId).Version);
    }

    [Fact]
    public async Task Keys_ArePerCart()
    {
        await _runtime.ApplyKeyedAndReadAsync(CartId, "shared", AddItem("a"));

        var otherCart = await _runtime.ApplyKeyedAndReadAsync(CartId + 1, "shared", AddItem("a"));

        Assert.False(otherCart.IsReplay);
        Assert.Equal(1UL, otherCart.State.Version);
    }

    [Fact]
    public async Task KeysAreCaseSensitive_AndApplyWithoutAKeyNeverReplays()
    {
        await _runtime.ApplyKeyedAndReadAsync(CartId, "key", AddItem("a"));
        var otherCase = await _runtime.ApplyKeyedAndReadAsync(CartId, "KEY", AddItem("a"));
        var noKey1 = await _runtime.ApplyAndReadAsync(CartId, AddItem("a"));
        var noKey2 = await _runtime.ApplyAndReadAsync(CartId, AddItem("a"));

        Assert.False(otherCase.IsReplay);
        Assert.False(noKey1.IsReplay);
        Assert.False(noKey2.IsReplay);
        Assert.Equal(4, Assert.Single(noKey2.State.Items).Quantity);
    }

    [Fact]
    public async Task TheWindowHolds128Keys_AndForgetsTheOldest()
    {
        for (var key = 0; key <= 128; key++)
        {
            var applied = await _runtime.ApplyKeyedAndReadAsync(CartId, $"k-{key}", AddItem("a"));
            Assert.False(applied.IsReplay);
        }

        Assert.Equal(129UL, _runtime.ReadState(CartId).Version);
        Assert.Equal(128, (await _runtime.ExportOrEmptyAsync(CartId)).Idempotency.Count);

        // The newest 128 keys (k-1..k-128) still replay: a replay neither applies nor shifts the window.
        foreach (var key in new[] { 1, 2, 64, 128 })
        {
            var replay = await _runtime.ApplyKeyedAndReadAsync(CartId, $"k-{key}", AddItem("a"));
            Assert.True(replay.IsReplay, $"k-{key} should still be remembered");
            Assert.Equal((ulong)(key + 1), replay.State.Version);
        }

        // k-0, the 129th-newest, was forgotten: it applies again.
        var forgotten = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-0", AddItem("a"));
        Assert.False(forgotten.IsReplay);
        Assert.Equal(130UL, forgotten.State.Version);
    }

    [Fact]
    public async Task ConcurrentRepeatsOfOneKey_ApplyOnce()
    {
        const int repeats = 16;
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));
        var results = new ConcurrentBag<Applied>();

        await MailboxConcurrencyTests.RunConcurrentlyAsync(repeats, async _ =>
            results.Add(await _runtime.ApplyKeyedAndReadAsync(CartId, "checkout-click", AddItem("a"), BeginCheckout())));

        Assert.Single(results, r => !r.IsReplay);
        Assert.All(results, r => Assert.Equal(results.First().Result, r.Result));
        var state = _runtime.ReadState(CartId);
        Assert.Equal(3UL, state.Version);
        Assert.Equal(2, Assert.Single(state.Items).Quantity);
        Assert.Equal(CartStatus.Checkout, state.Status);
    }

    [Fact]
    public async Task AReplayOutcome_HoldsNoPooledState()
    {
        (await _runtime.ApplyAsync(CartId, [AddItem("a")], "k").WithTimeout()).Dispose();

        using var replay = await _runtime.ApplyAsync(CartId, [AddItem("a")], "k").WithTimeout();

        Assert.True(replay.IsReplay);
        Assert.Throws<InvalidOperationException>(() => PackedStateAccess.Of(replay));
        Assert.Equal(1UL, replay.Result.State.Unpack<CartState>().Version);
    }
}

using System.Collections.Concurrent;

namespace CartActor.Core.Tests;

/// <summary>A repeated idempotency key replays the first results and applies nothing; each cart remembers its last 128 keys (and at most 128 KiB of them).</summary>
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
    public async Task ARepeatedKey_ForADifferentRequest_IsRefusedNamingTheKey()
    {
        await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a"));

        var error = await Assert.ThrowsAsync<CartRuntimeException>(() => _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("b"), ClearCart()));

        Assert.Equal(CartRequestError.InvalidArgument, error.Error);
        Assert.Contains("idempotency-key 'k-1'", error.Message, StringComparison.Ordinal);
        Assert.Equal(["a"], _runtime.ReadState(CartId).Items.Select(i => i.Sku));
        // The same mutations with other values are another request too.
        await Assert.ThrowsAsync<CartRuntimeException>(() => _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a", quantity: 2)));
    }

    [Fact]
    public async Task AReplay_KeepsTheFirstResults_WithTheCartsCurrentState()
    {
        var first = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a"), RemoveItem(9));
        var unchanged = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a"), RemoveItem(9));
        await _runtime.ApplyOkAsync(CartId, AddItem("b"), AddItem("c"));

        var repeat = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-1", AddItem("a"), RemoveItem(9));

        // While nothing else changed the cart, the replay is the first reply exactly.
        Assert.True(unchanged.IsReplay);
        Assert.Equal(first.Result, unchanged.Result);
        // Later, the recorded per-mutation results with the state as it is now (README, "Safe retries").
        Assert.True(repeat.IsReplay);
        Assert.Equal(first.Result.Mutations, repeat.Result.Mutations);
        Assert.Contains("no item with id 9", repeat[1].Error, StringComparison.Ordinal);
        Assert.Equal(3UL, repeat.State.Version);
        Assert.Equal(3UL, _runtime.ReadState(CartId).Version);
    }

    [Fact]
    public async Task AnApplyThatChangedNothing_LeavesNothingToReplay()
    {
        var refused = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-refused", AddItem("a", quantity: 0), RemoveItem(9));

        Assert.All(refused.Result.Mutations, m => Assert.True(m.HasError));
        Assert.Empty((await _runtime.ExportOrEmptyAsync(CartId)).Idempotency);
        // The key is free: the corrected request under it applies.
        var corrected = await _runtime.ApplyKeyedAndReadAsync(CartId, "k-refused", AddItem("a"));
        Assert.False(corrected.IsReplay);
        Assert.Equal(1UL, corrected.State.Version);
    }

    [Fact]
    public async Task TheWindowIsBoundedInBytes_AndKeepsNoPayloads()
    {
        var runtime = TestRuntime.Create(o => o.IdempotencyWindowBytes = 16 * 1024);
        await using var _ = runtime;
        var big = new Google.Protobuf.WellKnownTypes.Any
        {
            TypeUrl = "type.googleapis.com/cart_messages.AddItem",
            Value = Google.Protobuf.ByteString.CopyFrom(new byte[64 * 1024]),
        };
        for (var key = 0; key < 100; key++)
        {
            var refusals = Enumerable.Range(0, 20).Select(i => new Google.Protobuf.WellKnownTypes.Any { TypeUrl = $"type.example/{new string('x', 200)}{i}" });
            await runtime.ApplyKeyedAndReadAsync(CartId, $"k-{key}", [AddItem("a"), big, .. refusals]);
        }

        var record = await runtime.ExportOrEmptyAsync(CartId);
        var bytes = record.Idempotency.Sum(e => e.CalculateSize());
        Assert.InRange(bytes, 1, 16 * 1024);
        Assert.InRange(record.CalculateSize(), 1, 32 * 1024);
        Assert.Equal(100UL, record.State.Version);
        // The newest key still replays, with the refused mutations' errors.
        var refusalsAgain = Enumerable.Range(0, 20).Select(i => new Google.Protobuf.WellKnownTypes.Any { TypeUrl = $"type.example/{new string('x', 200)}{i}" });
        var replay = await runtime.ApplyKeyedAndReadAsync(CartId, "k-99", [AddItem("a"), big, .. refusalsAgain]);
        Assert.True(replay.IsReplay);
        Assert.Equal(22, replay.Result.Mutations.Count);
        Assert.False(replay[0].HasError);
        Assert.True(replay[1].HasError);
        Assert.StartsWith("unknown mutation type 'type.example/xxx", replay[21].Error, StringComparison.Ordinal);
        Assert.Equal(100UL, replay.State.Version);
    }

    [Fact]
    public void TheWindowsRunningByteTotal_IsRecountedWhenTheWindowChangedBehindIt()
    {
        var options = new CartRuntimeOptions { IdempotencyWindowBytes = 16 * 1024 };
        var record = new CartRecord { State = new CartState { Id = CartId } };
        var size = default(CartActor.Grains.WindowSize);
        for (var i = 0; i < 10; i++)
        {
            CartActor.Grains.IdempotencyWindow.Remember(record, $"k-{i}", new byte[16], new CartActor.ControlPlane.ApplyResult(), (ulong)i + 1, options, ref size);
        }

        Assert.Equal(record.Idempotency.Sum(e => (long)e.CalculateSize()), size.Bytes);

        // Something else swaps the window for larger entries (the running total now describes another window): trusted,
        // it would keep all ten and exceed the byte bound.
        record.Idempotency.Clear();
        for (var i = 0; i < 10; i++)
        {
            record.Idempotency.Add(new IdempotencyEntry { Key = new string('x', 1700) + i, Version = 1 });
        }

        CartActor.Grains.IdempotencyWindow.Remember(record, "k-new", new byte[16], new CartActor.ControlPlane.ApplyResult(), 11, options, ref size);

        var bytes = record.Idempotency.Sum(e => (long)e.CalculateSize());
        Assert.Equal(bytes, size.Bytes);
        Assert.InRange(bytes, 1, 16 * 1024);
        Assert.Equal("k-new", record.Idempotency[^1].Key);
    }

    [Fact]
    public async Task AnEntryOfTheOldFormat_StillReplaysTheReplyItStored()
    {
        var stored = (await _runtime.ApplyKeyedAndReadAsync(CartId + 7, null, AddItem("a"))).Result;
        var record = await _runtime.ExportOrEmptyAsync(CartId + 7);
        record.State.Id = CartId + 8;
        record.Idempotency.Add(new IdempotencyEntry { Key = "old", Result = Google.Protobuf.MessageExtensions.ToByteString(stored) });

        // Written by an older node: this one loads the record from its store on first touch.
        await using var loaded = new CartRuntime(new CartRuntimeOptions { ShardCount = 2 }, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(), store: new OneRecordStore(record));
        var replay = await loaded.ApplyKeyedAndReadAsync(CartId + 8, "old", AddItem("a"));

        Assert.True(replay.IsReplay);
        Assert.Equal(stored, replay.Result);
        Assert.Equal(1UL, (await loaded.ExportOrEmptyAsync(CartId + 8)).State.Version);
    }

    /// <summary>A store holding one record, as an older node left it; writes are accepted and dropped.</summary>
    private sealed class OneRecordStore(CartRecord record) : CartActor.Persistence.ICartStore
    {
        public string Name => "one-record";

        public bool IsShared => false;

        public CartRecord? Load(ulong cartId) => cartId == record.State.Id ? record.Clone() : null;

        public ValueTask<IReadOnlyCollection<ulong>> WriteAsync(IReadOnlyList<CartActor.Persistence.CartWrite> writes) =>
            new(Array.Empty<ulong>());

        public void Delete(ulong cartId)
        {
        }

        public Task<long> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => Task.FromResult(0L);

        public void Dispose()
        {
        }
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
            Assert.Equal(129UL, replay.State.Version);
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
    public async Task AReplayOutcome_LeasesTheCurrentState()
    {
        (await _runtime.ApplyAsync(CartId, [AddItem("a")], "k").WithTimeout()).Dispose();

        var replay = await _runtime.ApplyAsync(CartId, [AddItem("a")], "k").WithTimeout();
        var packed = PackedStateAccess.Of(replay);

        Assert.True(replay.IsReplay);
        Assert.Equal(1UL, replay.Result.State.Unpack<CartState>().Version);
        replay.Dispose();
        Assert.False(packed.IsReturnedToPool);
    }
}

using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using static CartActor.Persistence.Tests.Support.RuntimeDriving;

namespace CartActor.Persistence.Tests;

/// <summary>
/// Pipelined write-through over the embedded store: a shard issues its next pass's write while an earlier one
/// is in flight, yet answers strictly in order, and a failed write fails every pass issued after it.
/// One shard, so both carts share it; both are live before the writes are held (a load waits for the writes).
/// </summary>
public sealed class PipelinedWriteThroughTests : IDisposable
{
    private const ulong CartX = 11, CartY = 12;

    // A landed write whose Apply is wrongly answered is answered at once; this is ample time to see it.
    private static readonly TimeSpan WrongAnswerWindow = TimeSpan.FromMilliseconds(300);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_later_pass_whose_write_landed_is_answered_only_after_the_earlier_write_lands()
    {
        await using var gated = await StartAsync();
        var (rocks, store, runtime) = (gated.Rocks, gated.Store, gated.Runtime);
        store.Hold(3);

        var first = runtime.ApplyAsync(CartX, [AddItem("a")], "k-a").AsTask();
        await store.WaitForWritesAsync(3);
        var second = runtime.ApplyAsync(CartY, [AddItem("b")], "k-b").AsTask();

        // Issued while write 3 is held, and already in RocksDB: the pipeline did not wait for write 3.
        await store.WaitForWritesAsync(4);
        Assert.Equal([CartY], store.Batch(4));
        Assert.Equal(2UL, rocks.Load(CartY)!.State.Version);

        await Task.WhenAny(second, Task.Delay(WrongAnswerWindow));
        Assert.False(second.IsCompleted, "an Apply was answered before an earlier write of its shard had landed");
        Assert.False(first.IsCompleted, "an Apply was answered before its own write had landed");

        store.Release(3);
        var a = await first.AnsweredAsync();
        var b = await second.AnsweredAsync();
        Assert.Equal(["seed-x", "a"], a.State.Items.Select(i => i.Sku));
        Assert.Equal(["seed-y", "b"], b.State.Items.Select(i => i.Sku));
        Assert.Equal(a.State, rocks.Load(CartX)!.State);
        Assert.Equal(b.State, rocks.Load(CartY)!.State);
    }

    [Fact]
    public async Task A_failed_write_fails_the_later_pass_in_flight_too_and_retries_with_their_keys_apply_once()
    {
        await using var gated = await StartAsync();
        var (rocks, store, runtime) = (gated.Rocks, gated.Store, gated.Runtime);
        store.Hold(3, fail: true);

        var first = runtime.ApplyAsync(CartX, [AddItem("a")], "k-a").AsTask();
        await store.WaitForWritesAsync(3);
        var second = runtime.ApplyAsync(CartY, [AddItem("b")], "k-b").AsTask();
        await store.WaitForWritesAsync(4);
        store.Release(3);

        // Write 4 landed in RocksDB, but it was issued after write 3, whose outcome is unknown: both fail alike.
        var firstError = await Assert.ThrowsAsync<CartRuntimeException>(() => first.WithTimeout());
        var secondError = await Assert.ThrowsAsync<CartRuntimeException>(() => second.WithTimeout());
        Assert.Equal(CartRequestError.StoreUnavailable, firstError.Error);
        Assert.Same(firstError, secondError);
        Assert.False(runtime.IsActive(CartX), "a cart of the failed write stayed in memory");
        Assert.False(runtime.IsActive(CartY), "a cart of the later failed pass stayed in memory");

        // The callers retry with their keys: each batch is applied exactly once, whatever its write did.
        var retriedB = await runtime.ApplyAsync(CartY, "k-b", AddItem("b"));
        var retriedA = await runtime.ApplyAsync(CartX, "k-a", AddItem("a"));
        Assert.True(retriedB.IsReplay, "write 4 had stored k-b: the retry must replay it");
        Assert.False(retriedA.IsReplay);
        Assert.Equal(["seed-y", "b"], retriedB.State.Items.Select(i => i.Sku));
        Assert.Equal(["seed-x", "a"], retriedA.State.Items.Select(i => i.Sku));
        Assert.Equal(retriedA.State, rocks.Load(CartX)!.State);
    }

    private Task<GatedRuntime> StartAsync() =>
        GatedRuntime.StartAsync(_directory.Path, new CartRuntimeOptions { ShardCount = 1, MaxWritesInFlightPerShard = 4 }, (CartX, "seed-x"), (CartY, "seed-y"));
}

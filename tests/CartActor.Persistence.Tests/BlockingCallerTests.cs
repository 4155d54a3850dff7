using CartActor.Packing;
using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using static CartActor.Persistence.Tests.Support.RuntimeDriving;

namespace CartActor.Persistence.Tests;

/// <summary>
/// An in-process caller of the public runtime may block on another Apply: the answers of a settled pass reach
/// their callers' continuations each on its own, so a continuation that waits synchronously for an Apply answered
/// later in the same pass does not wait for the thread it holds. (The node's endpoint, which never blocks, has
/// them run inline one after another: CartRuntimeOptions.InlinePassAnswers.) One shard and one write in flight,
/// so both Applies are built into one pass while the write before it is held.
/// </summary>
public sealed class BlockingCallerTests : IDisposable
{
    private const ulong CartX = 31, CartY = 32;

    // Far longer than a pool dispatch; an answer that waits behind the blocked continuation never comes within it.
    private static readonly TimeSpan BlockFor = TimeSpan.FromSeconds(3);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_continuation_that_blocks_on_an_Apply_answered_later_in_the_same_pass_gets_that_answer()
    {
        await using var gated = await GatedRuntime.StartAsync(
            _directory.Path, new CartRuntimeOptions { ShardCount = 1, MaxWritesInFlightPerShard = 1 }, (CartX, "seed-x"), (CartY, "seed-y"));
        var (store, runtime) = (gated.Store, gated.Runtime);
        store.Hold(3);
        var held = runtime.ApplyAsync(CartY, [AddItem("a")], "k-a").AsTask();
        await store.WaitForWritesAsync(3);

        // X then Y, both in the pass built while write 3 is held: X's caller blocks until Y's answer has come.
        var later = new TaskCompletionSource<Task<ApplyOutcome>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocked = BlockOnLaterAnswerAsync(runtime.ApplyAsync(CartX, [AddItem("x1")], "k-x1"), later.Task);
        var second = runtime.ApplyAsync(CartY, [AddItem("y1")], "k-y1").AsTask();
        later.SetResult(second);
        store.Release(3);

        await held.AnsweredAsync();
        Assert.True(await blocked.WithTimeout(), $"the caller of X blocked {BlockFor.TotalSeconds} s on Y's answer, which came after the pass's X answer only");
        var y = await second.AnsweredAsync();
        Assert.Equal([CartX, CartY], store.Batch(4).Order());
        Assert.Equal(["seed-y", "a", "y1"], y.State.Items.Select(i => i.Sku));
    }

    /// <summary>Awaits <paramref name="first"/>, then, in its continuation, waits synchronously for the later Apply, as a caller on a blocking API does.</summary>
    private static async Task<bool> BlockOnLaterAnswerAsync(ValueTask<ApplyOutcome> first, Task<Task<ApplyOutcome>> later)
    {
        // ConfigureAwait(false): the continuation runs where the runtime completes it, not on the test's context.
        using var outcome = await first.ConfigureAwait(false);
        var second = await later.ConfigureAwait(false);
        return second.Wait(BlockFor);
    }
}

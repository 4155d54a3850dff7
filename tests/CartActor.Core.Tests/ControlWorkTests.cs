using CartActor.Packing;

namespace CartActor.Core.Tests;

/// <summary>
/// Control work (a ring change's drop, the idle sweep) comes from the membership heartbeat and from ring
/// publication under the membership lock. It is queued on the shards in order with everything else, but the
/// caller never runs the shard's pass: an Apply queued behind the drop may wait seconds for a store load, and
/// the heartbeat that ran it stopped pinging (a SIGKILLed member stayed in a survivor's ring past 10 s with a
/// dead-after time of 3 s). The slow Apply is made deterministic: its activation blocks in the lifecycle observer.
/// </summary>
public sealed class ControlWorkTests
{
    private const ulong LiveCart = 700;
    private const ulong SlowCart = 701;

    [Fact]
    public async Task ADropReturnsToItsCaller_WhileAnApplyQueuedBehindItIsStillLoading()
    {
        using var observer = new BlockingActivationObserver(SlowCart);
        await using var runtime = TestRuntime.Create(o => o.ShardCount = 1, observer: observer);
        await runtime.ApplyOkAsync(LiveCart, AddItem("live"));
        Task<ApplyOutcome>? queued = null;

        // The caller stands for the heartbeat publishing a new ring; a request for another cart arrives while the
        // drop is on the shard, so it queues behind it. A thread of its own, so a caller held there holds no pool thread.
        var caller = Task.Factory.StartNew(
            () => runtime.EvictWhereAsync(
                id =>
                {
                    queued ??= runtime.ApplyAsync(SlowCart, [AddItem("slow")]).AsTask();
                    return false;
                },
                EvictionReason.NotOwned),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        try
        {
            await observer.Entered;

            // The queued Apply is inside its slow activation now, and not on the caller: the caller has returned
            // and its drop has completed (nothing was dropped: every cart is still this node's).
            var drop = await caller.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(0, await drop.WithTimeout());
        }
        finally
        {
            observer.Release();
        }

        using var outcome = await queued!.WithTimeout();
        Assert.Equal(["slow"], outcome.Result.State.Unpack<CartState>().Items.Select(i => i.Sku));
        Assert.True(runtime.IsActive(LiveCart));
    }
}

using CartActor.Packing;

namespace CartActor.Core.Tests;

/// <summary>
/// A busy shard queues in order up to its limit and refuses beyond it at once with a retryable error. The
/// shard is held busy deterministically: the first Apply of <see cref="BlockedCart"/> blocks inside the
/// shard, in the lifecycle observer, until the test releases it.
/// </summary>
public sealed class ShardOverloadTests
{
    private const ulong BlockedCart = 500;

    [Fact]
    public async Task AFullShard_RefusesAtOnceAsOverloaded_AndRunsWhatItQueuedOnceFree()
    {
        using var observer = new BlockingActivationObserver(BlockedCart);
        await using var runtime = TestRuntime.Create(o => { o.ShardCount = 1; o.MaxQueueDepthPerShard = 2; }, observer: observer);
        var holder = StartBlockingApply(runtime);
        await observer.Entered;

        var queuedOther = runtime.ApplyAsync(BlockedCart + 1, [AddItem("queued-other")]);
        var queuedSame = runtime.ApplyAsync(BlockedCart, [AddItem("queued-same")]);
        Assert.False(queuedOther.IsCompleted);
        Assert.False(queuedSame.IsCompleted);
        Assert.Equal(2, runtime.QueueDepth);

        var refused = Assert.Throws<CartRuntimeException>(() => runtime.ApplyAsync(BlockedCart + 2, [AddItem("refused")]));
        Assert.Equal(CartRequestError.Overloaded, refused.Error);
        Assert.True(refused.IsRetryable);
        var refusedSameCart = Assert.Throws<CartRuntimeException>(() => runtime.ApplyAsync(BlockedCart, [AddItem("refused")]));
        Assert.Equal(CartRequestError.Overloaded, refusedSameCart.Error);
        Assert.Equal(2, runtime.QueueDepth);

        observer.Release();
        using (var first = await holder.WithTimeout())
        using (var other = await queuedOther.WithTimeout())
        using (var same = await queuedSame.WithTimeout())
        {
            Assert.Equal(1UL, first.Result.State.Unpack<CartState>().Version);
            Assert.Equal(["queued-other"], other.Result.State.Unpack<CartState>().Items.Select(i => i.Sku));
            Assert.Equal(["first", "queued-same"], same.Result.State.Unpack<CartState>().Items.Select(i => i.Sku));
        }

        // The refused requests applied nothing, and the shard takes work again.
        Assert.False(runtime.IsActive(BlockedCart + 2));
        Assert.Equal(2UL, runtime.ReadState(BlockedCart).Version);
        Assert.Equal(0, runtime.QueueDepth);
        var after = await runtime.ApplyOkAsync(BlockedCart + 2, AddItem("after"));
        Assert.Equal(1UL, after.Version);
    }

    [Fact]
    public async Task QueuedAppliesToOneCart_RunInArrivalOrder()
    {
        using var observer = new BlockingActivationObserver(BlockedCart);
        await using var runtime = TestRuntime.Create(o => o.ShardCount = 1, observer: observer);
        var holder = StartBlockingApply(runtime);
        await observer.Entered;

        var queued = new List<Task<ApplyOutcome>>();
        for (var quantity = 2; quantity <= 40; quantity++)
        {
            queued.Add(runtime.ApplyAsync(BlockedCart, [ChangeQuantity(1, quantity)]).AsTask());
        }

        observer.Release();
        (await holder.WithTimeout()).Dispose();
        for (var i = 0; i < queued.Count; i++)
        {
            using var outcome = await queued[i].WithTimeout();
            var state = outcome.Result.State.Unpack<CartState>();
            Assert.Equal(i + 2, state.Items[0].Quantity);
            Assert.Equal((ulong)(i + 2), state.Version);
        }
    }

    [Fact]
    public async Task AQueueLongerThanTheWorkBudget_IsDrainedCompletely()
    {
        using var observer = new BlockingActivationObserver(BlockedCart);
        await using var runtime = TestRuntime.Create(
            o => { o.ShardCount = 1; o.ShardWorkBudget = 3; o.MaxQueueDepthPerShard = 100; },
            observer: observer);
        var holder = StartBlockingApply(runtime);
        await observer.Entered;

        var queued = Enumerable.Range(0, 50)
            .Select(i => runtime.ApplyAsync(BlockedCart + 1 + (ulong)(i % 5), [AddItem($"sku-{i}")]).AsTask())
            .ToList();
        Assert.Equal(50, runtime.QueueDepth);

        observer.Release();
        (await holder.WithTimeout()).Dispose();
        foreach (var outcome in await Task.WhenAll(queued).WithTimeout())
        {
            outcome.Dispose();
        }

        Assert.Equal(0, runtime.QueueDepth);
        for (ulong cart = BlockedCart + 1; cart <= BlockedCart + 5; cart++)
        {
            Assert.Equal(10UL, runtime.ReadState(cart).Version);
        }
    }

    [Fact]
    public async Task SweepsAndExports_QueueBehindBusyWork_WithoutCountingAgainstCallers()
    {
        using var observer = new BlockingActivationObserver(BlockedCart);
        await using var runtime = TestRuntime.Create(o => { o.ShardCount = 1; o.MaxQueueDepthPerShard = 1; }, observer: observer);
        var holder = StartBlockingApply(runtime);
        await observer.Entered;

        var queued = runtime.ApplyAsync(BlockedCart, [AddItem("second")]);
        var export = runtime.ExportAsync(BlockedCart);
        var sweep = runtime.SweepIdleAsync();
        Assert.False(export.IsCompleted);
        Assert.False(sweep.IsCompleted);

        observer.Release();
        (await holder.WithTimeout()).Dispose();
        (await queued.WithTimeout()).Dispose();
        var record = await export.WithTimeout();
        Assert.NotNull(record);
        Assert.Equal(["first", "second"], record.State.Items.Select(i => i.Sku)); // ran after the Apply queued before it
        Assert.Equal(0, await sweep.WithTimeout());
    }

    /// <summary>Starts the first Apply of the blocked cart on a thread of its own; it holds the shard until released.</summary>
    private static Task<ApplyOutcome> StartBlockingApply(CartRuntime runtime) =>
        Task.Factory.StartNew(
            () => runtime.ApplyAsync(BlockedCart, [AddItem("first")]).AsTask(),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).Unwrap();
}

using CartActor.Cart.Messages;
using CartActor.Packing;
using CartActor.Persistence.RocksDb;
using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using static CartActor.Persistence.Tests.Support.RuntimeDriving;

namespace CartActor.Persistence.Tests;

/// <summary>
/// Group commit in the write-through: Applies that reach a shard while the thread pool has other work waiting
/// share one store write, and none of them is answered before that write has landed.
/// </summary>
public sealed class GroupCommitTests : IDisposable
{
    private const ulong CartId = 7_007;
    private const int Applies = 8;

    // More waiting work items than the pool has threads, so some are still queued when the Applies arrive.
    private const int WaitingWorkItems = 256;

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(DurabilityMode.Fsync)]
    [InlineData(DurabilityMode.Os)]
    public async Task AppliesArrivingWhileThePoolIsBusy_ShareOneWrite_AndAreAnsweredOnlyAfterIt(DurabilityMode mode)
    {
        using var rocks = RocksDbCartStore.Open(new RocksDbStoreOptions { Path = _directory.Path, Mode = mode });
        using var store = new CountingStore(rocks);
        var runtime = CreateRuntime(store);
        using var waiting = new WaitingWork(WaitingWorkItems);
        var pending = new List<Task<ApplyOutcome>>();
        try
        {
            await runtime.ApplyAsync(CartId, null, AddItem("mug"));
            var writesBefore = store.Writes;

            waiting.Queue();
            for (var i = 0; i < Applies; i++)
            {
                pending.Add(runtime.ApplyAsync(CartId, [AddItem("mug")], idempotencyKey: null).AsTask());
            }

            // The first Apply found the shard idle and applied on this thread, but did not write: work was waiting.
            Assert.All(pending, apply => Assert.False(apply.IsCompleted, "an Apply was answered before its pass was written"));
            waiting.Release();
            var outcomes = await Task.WhenAll(pending).WithTimeout();
            foreach (var outcome in outcomes)
            {
                outcome.Dispose();
            }

            Assert.Equal(writesBefore + 1, store.Writes);
            var stored = rocks.Load(CartId)?.State;
            Assert.NotNull(stored);
            Assert.Equal((ulong)(1 + Applies), stored.Version);
            Assert.Equal(1 + Applies, Assert.Single(stored.Items).Quantity);
            Assert.Equal(stored, await runtime.ReadStateAsync(CartId));
        }
        finally
        {
            waiting.Release();
            await waiting.Finished.WithTimeout();
            await runtime.DisposeWithTimeoutAsync();
        }
    }

    /// <summary>Work items that hold their pool threads until released, so others stay queued behind them.</summary>
    private sealed class WaitingWork : IDisposable
    {
        private readonly ManualResetEventSlim _release = new(false);
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly int _count;
        private int _running;

        public WaitingWork(int count)
        {
            _count = count;
            _running = count;
        }
        private bool _queued;

        public Task Finished => _queued ? _finished.Task : Task.CompletedTask;

        public void Queue()
        {
            _queued = true;
            for (var i = 0; i < _count; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static self => ((WaitingWork)self!).Run(), this);
            }
        }

        public void Release() => _release.Set();

        // Disposed only after every item has run (the test awaits Finished first).
        public void Dispose() => _release.Dispose();

        private void Run()
        {
            _release.Wait(TestTimeouts.Default);
            if (Interlocked.Decrement(ref _running) == 0)
            {
                _finished.SetResult();
            }
        }
    }

    /// <summary>The embedded store, counting the batches written through it.</summary>
    private sealed class CountingStore(ICartStore inner) : ICartStore
    {
        private int _writes;

        public int Writes => Volatile.Read(ref _writes);

        public string Name => inner.Name;

        public bool IsShared => inner.IsShared;

        public CartRecord? Load(ulong cartId) => inner.Load(cartId);

        public ValueTask<IReadOnlyCollection<ulong>> WriteAsync(IReadOnlyList<CartWrite> writes)
        {
            Interlocked.Increment(ref _writes);
            return inner.WriteAsync(writes);
        }

        public void Delete(ulong cartId) => inner.Delete(cartId);

        public Task<long> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
            inner.DeleteOlderThanAsync(cutoff, cancellationToken);

        public void Dispose()
        {
            // The test disposes the inner store itself.
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.ObjectPool;

namespace CartActor.Persistence.RocksDb;

/// <summary>
/// The synced write path (<see cref="DurabilityMode.Fsync"/>): one dedicated thread takes every batch that is ready,
/// from every shard, writes them as one <c>WriteBatch</c> with one sync, and completes the shards' awaits. A sync
/// (0.2-0.7 ms on this machine's disk, several ms on a busy one) then blocks this thread only. Done on the caller's
/// thread, it blocked a thread-pool thread per write, and under one core (pool minimum one thread) it stalled Kestrel
/// and every shard for the whole sync. The batches that arrive during a sync queue and share the next one.
/// <para>
/// Owns the queue, the thread and the pool of <see cref="PendingCommit"/>s; the store owns the write itself
/// (<see cref="RocksDbCartStore.WriteGroup"/>). Producers: any shard, many at once, lock-free. Consumer: the thread
/// alone. The queue is bounded: a full queue refuses (the disk is slower than the writes), never buffers more.
/// </para>
/// <para>
/// Group commit dwell (Postgres commit_delay / commit_siblings, MySQL binlog_group_commit_sync_delay): when the last
/// sync carried N batches and ended moments ago, and fewer than N are ready now, the thread waits a bounded time for
/// the rest (half the recent sync time, at most <see cref="RocksDbStoreOptions.GroupCommitDelay"/>) instead of
/// syncing a partial group and leaving the late batches for the sync after it. A lone writer (N = 1) never waits,
/// and neither does the first write after a quiet spell (the expectation lapses 2 ms after the sync).
/// </para>
/// </summary>
internal sealed class RocksDbCommitter : IDisposable
{
    /// <summary>Batches that may wait for a sync; more are refused as unavailable.</summary>
    internal const int Capacity = 1024;

    // A group is bounded too, so one sync never carries a whole backlog's worth of bytes at once.
    private const int MaxBatchesPerGroup = 256;
    private const int MaxBytesPerGroup = 4 * 1024 * 1024;
    private const int MaxPooled = 64;

    // How long after a sync its batch count still predicts the next group: a closed loop's callers answer and send
    // their next change well within it (loopback, sub-millisecond); a caller after a quiet spell is not expected.
    private static readonly TimeSpan DefaultExpectationLifetime = TimeSpan.FromMilliseconds(2);

    private readonly ConcurrentQueue<PendingCommit> _queue = new();
    private readonly ManualResetEventSlim _wake = new(initialState: false);
    private readonly ObjectPool<PendingCommit> _pool;
    private readonly List<PendingCommit> _group = new(MaxBatchesPerGroup);
    private readonly RocksDbCartStore _store;
    private readonly Thread _thread;
    private int _queued;
    private int _sleeping;
    private int _stopping;
    private long _groups;
    private long _batches;
    private long _dwells;

    // Committer thread only: the dwell's bound and what the last sync predicts.
    private readonly long _maxDwellTicks;
    private long _syncTicksAverage;
    private long _lastSyncEnd;
    private int _lastGroupSize;

    /// <summary>Tests may lengthen it (set before the first write) so that a slow machine does not lapse the expectation.</summary>
    internal TimeSpan ExpectationLifetime { get; set; } = DefaultExpectationLifetime;

    public RocksDbCommitter(RocksDbCartStore store, TimeSpan maxDwell)
    {
        _store = store;
        _maxDwellTicks = (long)(maxDwell.TotalSeconds * Stopwatch.Frequency);
        _pool = new DefaultObjectPoolProvider { MaximumRetained = MaxPooled }.Create(new Policy(this));
        _thread = new Thread(Run) { IsBackground = true, Name = "rocksdb-committer" };
        _thread.Start();
    }

    /// <summary>Groups written, each with one sync.</summary>
    public long Groups => Interlocked.Read(ref _groups);

    /// <summary>Shard batches those groups carried.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Times the thread waited for batches the last sync predicted (never for a lone writer).</summary>
    public long Dwells => Interlocked.Read(ref _dwells);

    /// <summary>A cleared batch for one WriteAsync call; it comes back through its GetResult or <see cref="PendingCommit.Recycle"/>.</summary>
    public PendingCommit Rent() => _pool.Get();

    public void Return(PendingCommit pending) => _pool.Return(pending);

    /// <summary>Queues an encoded batch; the task completes on the thread pool once its group is synced, or failed.</summary>
    public ValueTask<IReadOnlyCollection<ulong>> Submit(PendingCommit pending)
    {
        if (Interlocked.Increment(ref _queued) > Capacity)
        {
            Interlocked.Decrement(ref _queued);
            pending.Recycle();
            return ValueTask.FromException<IReadOnlyCollection<ulong>>(_store.QueueFull(Capacity));
        }

        var completion = pending.AsValueTask();
        _queue.Enqueue(pending);

        // The enqueue is a full fence, and so are the consumer's writes of _sleeping and _stopping: either this
        // thread sees the flag, or the consumer sees the batch.
        if (Volatile.Read(ref _stopping) == 1)
        {
            FailLeftovers();
        }
        else if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _wake.Set();
        }

        return completion;
    }

    /// <summary>Writes what is queued, then stops the thread; a batch submitted after that fails as closed.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 1)
        {
            return;
        }

        _wake.Set();
        _thread.Join();

        // _wake is not disposed: a late Submit may still set it (a disposed event would throw there).
    }

    private void Run()
    {
        using var batch = new RocksDbSharp.WriteBatch();
        while (true)
        {
            DwellForExpected();
            if (TakeGroup())
            {
                Commit(batch);
                continue;
            }

            if (Volatile.Read(ref _stopping) == 1)
            {
                break;
            }

            _wake.Reset();
            Interlocked.Exchange(ref _sleeping, 1);
            if (_queue.IsEmpty && Volatile.Read(ref _stopping) == 0)
            {
                _wake.Wait();

                // Woken by the first batch after a sync, this thread would take it alone: the other shards' batches
                // are still in their continuations on the pool, often on the same core. One yield lets them queue too.
                Thread.Yield();
            }

            Interlocked.Exchange(ref _sleeping, 0);
        }

        FailLeftovers();
    }

    /// <summary>
    /// Waits, yielding the core to the shards that are about to submit, while fewer batches are ready than the last
    /// sync carried, for at most half the average sync time (capped). Nothing ready: the caller sleeps until the first
    /// batch comes, then comes back here. Yields rather than sleeps: the bound is far below the timer's resolution.
    /// </summary>
    private void DwellForExpected()
    {
        var expected = _lastGroupSize;
        if (_maxDwellTicks == 0 || expected <= 1)
        {
            return;
        }

        var ready = Volatile.Read(ref _queued);
        if (ready == 0 || ready >= expected || Stopwatch.GetElapsedTime(_lastSyncEnd) > ExpectationLifetime)
        {
            return;
        }

        Interlocked.Increment(ref _dwells);
        var start = Stopwatch.GetTimestamp();
        var bound = Math.Min(_maxDwellTicks, _syncTicksAverage / 2);
        while (Volatile.Read(ref _queued) < expected && Stopwatch.GetTimestamp() - start < bound && Volatile.Read(ref _stopping) == 0)
        {
            Thread.Yield();
        }
    }

    /// <summary>Takes every ready batch, up to a group's bounds.</summary>
    private bool TakeGroup()
    {
        _group.Clear();
        var bytes = 0;
        while (_group.Count < MaxBatchesPerGroup && bytes < MaxBytesPerGroup && _queue.TryDequeue(out var pending))
        {
            _group.Add(pending);
            bytes += pending.Bytes;
        }

        if (_group.Count == 0)
        {
            return false;
        }

        Interlocked.Add(ref _queued, -_group.Count);
        return true;
    }

    /// <summary>One write, one sync, for the whole group; a failure fails exactly the group's batches.</summary>
    private void Commit(RocksDbSharp.WriteBatch batch)
    {
        var start = Stopwatch.GetTimestamp();
        var failure = _store.WriteGroup(_group, batch);
        _lastSyncEnd = Stopwatch.GetTimestamp();

        // A moving average over about eight syncs: the dwell follows the disk as its load changes.
        _syncTicksAverage += ((_lastSyncEnd - start) - _syncTicksAverage) / 8;
        _lastGroupSize = _group.Count;
        Interlocked.Increment(ref _groups);
        Interlocked.Add(ref _batches, _group.Count);
        foreach (var pending in _group)
        {
            // One exception per awaiter: the shards rethrow them concurrently.
            pending.Complete(failure is null ? null : new CartStoreException(failure.Error, failure.Message, failure.InnerException));
        }

        _group.Clear();
    }

    private void FailLeftovers()
    {
        while (_queue.TryDequeue(out var pending))
        {
            Interlocked.Decrement(ref _queued);
            pending.Complete(_store.Closed());
        }
    }

    private sealed class Policy(RocksDbCommitter owner) : IPooledObjectPolicy<PendingCommit>
    {
        public PendingCommit Create() => new(owner);

        public bool Return(PendingCommit pending) => true;
    }
}

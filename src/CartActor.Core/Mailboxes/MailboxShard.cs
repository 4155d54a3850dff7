using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using CartActor.Grains;
using CartActor.Packing;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.ObjectPool;

namespace CartActor.Mailboxes;

/// <summary>
/// A single-writer executor for the carts that hash to it. Owns their grains, their LRU order and a
/// bounded queue. Whoever wins the Idle -> Busy compare-and-swap runs work; an Apply that finds the shard
/// idle with nothing queued runs on the caller's thread and completes synchronously (no thread hop, no
/// allocation of its own). Otherwise it queues, and a full queue refuses at once with a retryable error.
/// Reads (Get) never enter the shard: they lease the grain's packed state lock-free.
/// This file: the entry points and the run loop. Activation and eviction: MailboxShard.Activation.cs;
/// write-through to the store: MailboxShard.WriteThrough.cs.
/// </summary>
internal sealed partial class MailboxShard : IThreadPoolWorkItem
{
    private const int Idle = 0;
    private const int Busy = 1;

    private readonly CartRuntimeContext _context;
    private readonly ConcurrentQueue<ShardWork> _queue = new();
    private readonly ObjectPool<ApplyWork> _applyPool;
    private readonly int _maxWritesInFlight;
    private int _state;
    private int _queued;

    public MailboxShard(CartRuntimeContext context, int capacity)
    {
        _context = context;
        _capacity = capacity;
        _maxWritesInFlight = context.Options.MaxWritesInFlightPerShard;
        _applyPool = new DefaultObjectPool<ApplyWork>(new ApplyWork.Policy(), 64);
    }

    public int QueueDepth => Volatile.Read(ref _queued);

    public ValueTask<ApplyOutcome> ApplyAsync(ulong cartId, IReadOnlyList<Any> mutations, string? idempotencyKey)
    {
        // In memory only: an idle shard runs the Apply on the caller's thread. With a store, every Apply goes
        // through a pass, so that one write covers the pass and the answer waits for it.
        if (_context.Store is null && Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
        {
            if (Volatile.Read(ref _queued) == 0)
            {
                ApplyOutcome outcome;
                try
                {
                    // No store here, so nothing is loaded: no caller span to pass.
                    outcome = ApplyNow(cartId, mutations, idempotencyKey, caller: default);
                }
                finally
                {
                    ExitAndReschedule();
                }

                return new ValueTask<ApplyOutcome>(outcome);
            }

            // Others are waiting: keep their order by queueing behind them, then run the queue ourselves.
            var behind = RentApply(cartId, mutations, idempotencyKey, out var behindToken);
            if (!TryEnqueue(behind, bypassLimit: true))
            {
                throw new UnreachableException();
            }

            Drain();
            return new ValueTask<ApplyOutcome>(behind, behindToken);
        }

        var work = RentApply(cartId, mutations, idempotencyKey, out var token);
        if (!TryEnqueue(work, bypassLimit: false))
        {
            _applyPool.Return(work);
            _context.Metrics.Rejected();
            ThrowOverloaded();
        }

        TryDrainHere();
        return new ValueTask<ApplyOutcome>(work, token);
    }

    /// <summary>Queues rare work of a request (a read that loads, an export) and runs it in order with everything else, on the caller when the shard is idle.</summary>
    public Task<T> RunAsync<T>(Func<MailboxShard, T> callback, bool bypassLimit) => QueueCallback(callback, bypassLimit, drainHere: true);

    /// <summary>
    /// Queues control work (sweeps, ring-change drops, a stale view's drop, shutdown) in order with everything
    /// else, and never drains the shard on the caller: an idle shard is started on the thread pool. The callers
    /// are the membership heartbeat and ring publication (under the membership lock); drained there, the pass
    /// took every Apply queued behind the drop, synchronous store loads included (2 s each when a Redis load
    /// timed out), and a SIGKILLed member stayed in the ring for more than 10 s with a dead-after time of 3 s.
    /// </summary>
    public Task<T> PostAsync<T>(Func<MailboxShard, T> callback, bool bypassLimit) => QueueCallback(callback, bypassLimit, drainHere: false);

    /// <summary>Lock-free read of a live cart's current state.</summary>
    public bool TryLease(ulong cartId, out CartStateLease lease)
    {
        if (_grains.TryGetValue(cartId, out var grain) && grain.TryLease(out lease))
        {
            grain.Touch(_context.Time.GetTimestamp());
            return true;
        }

        lease = default;
        return false;
    }

    // ---- The run loop. ----

    /// <summary>Queues control or request work; then drains here (RunAsync) or starts an idle shard on the pool (PostAsync).</summary>
    private Task<T> QueueCallback<T>(Func<MailboxShard, T> callback, bool bypassLimit, bool drainHere)
    {
        var work = new CallbackWork<T>(callback);
        if (!TryEnqueue(work, bypassLimit))
        {
            return Task.FromException<T>(new CartRuntimeException(CartRequestError.Overloaded, "shard queue is full; try again"));
        }

        if (drainHere)
        {
            TryDrainHere();
        }
        else if (Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
        {
            // The same hand-off as a drain's exit: whoever holds Busy sees this work, or this CAS starts a drain for it.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        return work.Task;
    }


    private ApplyWork RentApply(ulong cartId, IReadOnlyList<Any> mutations, string? idempotencyKey, out short token)
    {
        var work = _applyPool.Get();
        work.Initialize(_applyPool, cartId, mutations, idempotencyKey, Diagnostics.CartTracing.CaptureCaller());
        token = work.Version;
        return work;
    }

    private bool TryEnqueue(ShardWork work, bool bypassLimit)
    {
        if (Interlocked.Increment(ref _queued) > _context.Options.MaxQueueDepthPerShard && !bypassLimit)
        {
            Interlocked.Decrement(ref _queued);
            return false;
        }

        _queue.Enqueue(work);
        return true;
    }

    /// <summary>Takes the shard if it is idle and runs what is queued on this thread.</summary>
    private void TryDrainHere()
    {
        if (Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
        {
            Drain();
        }
    }

    /// <summary>Leaves the shard after an inline Apply; work that queued meanwhile goes to the thread pool.</summary>
    private void ExitAndReschedule()
    {
        // A full fence: the queue must be read after Idle is visible, or an enqueuer that saw Busy is lost.
        Interlocked.Exchange(ref _state, Idle);
        if (Volatile.Read(ref _queued) > 0 && Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>
    /// Runs queued work with a budget; the caller holds Busy, and this leaves it Idle or re-scheduled. With a
    /// store, each round settles the writes that landed, takes work into the pass being built, and issues that
    /// pass while fewer than MaxWritesInFlightPerShard writes are in flight. A shard that must wait for a write
    /// (see MustWaitForWrites) goes idle; the write's landing wakes it.
    /// </summary>
    private void Drain()
    {
        var budget = _context.Options.ShardWorkBudget;
        while (true)
        {
            if (_inFlightCount > 0)
            {
                SettleLandedWrites();
            }

            var waiting = false;
            while (budget > 0)
            {
                if (!_queue.TryPeek(out var work))
                {
                    break;
                }

                if (MustWaitForWrites(work))
                {
                    waiting = true;
                    break;
                }

                // The one consumer (the holder of Busy) dequeues what it peeked.
                _queue.TryDequeue(out _);

                Interlocked.Decrement(ref _queued);
                budget--;
                work.Execute(this);
            }

            if (HasPassToIssue && !_recovering)
            {
                if (_inFlightCount < _maxWritesInFlight)
                {
                    if (TryDeferFlush())
                    {
                        // Busy until the deferred pass runs: Applies that arrive meanwhile queue and join its write.
                        return;
                    }

                    // The next pass applies in memory while this write is in flight; a write that completed
                    // synchronously is settled at the top of the next round.
                    IssuePass();
                    continue;
                }

                waiting = true;
            }

            if (budget == 0 && !waiting && !_queue.IsEmpty)
            {
                // Out of budget: let other work use this thread and continue on the pool.
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }

            // A full fence: a landing or an enqueue that saw Busy must be seen here, or it is lost.
            Interlocked.Exchange(ref _state, Idle);
            var more = HeadLanded() || (!waiting && !_queue.IsEmpty);
            if (!more || Interlocked.CompareExchange(ref _state, Busy, Idle) != Idle)
            {
                return;
            }
        }
    }

    void IThreadPoolWorkItem.Execute() => Drain();

    [DoesNotReturn]
    [StackTraceHidden]
    private static void ThrowOverloaded() =>
        throw new CartRuntimeException(CartRequestError.Overloaded, "the cart's mailbox shard is full; retry after a short back-off");
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using CartActor.Cart;
using CartActor.Cart.Messages;
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
/// </summary>
internal sealed class MailboxShard : IThreadPoolWorkItem
{
    private const int Idle = 0;
    private const int Busy = 1;

    private readonly CartRuntimeContext _context;
    private readonly ConcurrentQueue<ShardWork> _queue = new();
    private readonly ConcurrentDictionary<ulong, CartGrain> _grains = new();
    private readonly ObjectPool<ApplyWork> _applyPool;
    private readonly int _capacity;
    private int _state;
    private int _queued;
    private int _activeCount;
    private CartGrain? _lruHead;
    private CartGrain? _lruTail;

    public MailboxShard(CartRuntimeContext context, int capacity)
    {
        _context = context;
        _capacity = capacity;
        _applyPool = new DefaultObjectPool<ApplyWork>(new ApplyWork.Policy(), 64);
    }

    public int QueueDepth => Volatile.Read(ref _queued);

    public int ActiveCount => Volatile.Read(ref _activeCount);

    public ICollection<ulong> CartIds => _grains.Keys;

    public ValueTask<ApplyOutcome> ApplyAsync(ulong cartId, IReadOnlyList<Any> mutations, string? idempotencyKey)
    {
        if (Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
        {
            if (Volatile.Read(ref _queued) == 0)
            {
                ApplyOutcome outcome;
                try
                {
                    outcome = ApplyNow(cartId, mutations, idempotencyKey);
                }
                finally
                {
                    ExitAndHandOff();
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

    /// <summary>Queues rare control work (sweeps, exports, shutdown) and runs it in order with everything else.</summary>
    public Task<T> RunAsync<T>(Func<MailboxShard, T> callback, bool bypassLimit)
    {
        var work = new CallbackWork<T>(callback);
        if (!TryEnqueue(work, bypassLimit))
        {
            return Task.FromException<T>(new CartRuntimeException(CartRequestError.Overloaded, "shard queue is full; try again"));
        }

        TryDrainHere();
        return work.Task;
    }

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

    // ---- Everything below runs on the shard (the holder of Busy). ----

    internal ApplyOutcome ApplyNow(ulong cartId, IReadOnlyList<Any> mutations, string? idempotencyKey)
    {
        var now = _context.Time.GetTimestamp();
        var grain = GetOrActivate(cartId, now);
        grain.Touch(now);
        MoveToFront(grain, now);
        return grain.Apply(mutations, idempotencyKey, _context);
    }

    public bool IsActive(ulong cartId) => _grains.ContainsKey(cartId);

    internal CartRecord? ExportRecord(ulong cartId) =>
        _grains.TryGetValue(cartId, out var grain) ? grain.ExportRecord() : null;

    /// <summary>Makes a record taken from another node live here, unless the cart is already live.</summary>
    internal bool Import(CartRecord record)
    {
        var cartId = record.State.Id;
        if (_grains.ContainsKey(cartId))
        {
            return false;
        }

        var now = _context.Time.GetTimestamp();
        if (_activeCount >= _capacity)
        {
            EvictForCapacity();
        }

        var grain = new CartGrain(new CartModel(record), now);
        _grains[cartId] = grain;
        Volatile.Write(ref _activeCount, _activeCount + 1);
        MoveToFront(grain, now);
        _context.Observer?.OnActivated(cartId);
        return true;
    }

    /// <summary>Exports a live cart and drops it here (its new owner takes it); null when not live.</summary>
    internal CartRecord? HandOff(ulong cartId)
    {
        if (!_grains.TryGetValue(cartId, out var grain))
        {
            return null;
        }

        var record = grain.ExportRecord();
        Evict(grain, EvictionReason.Handoff);
        return record;
    }

    /// <summary>Evicts every cart idle for at least the TTL; returns how many went.</summary>
    internal int SweepIdle()
    {
        var ttl = _context.Options.IdleTtl;
        var evicted = 0;
        var grain = _lruTail;
        while (grain is not null)
        {
            var previous = grain.LruPrevious;
            if (_context.Time.GetElapsedTime(grain.LastAccess) >= ttl)
            {
                Evict(grain, EvictionReason.IdleTtl);
                evicted++;
            }

            grain = previous;
        }

        return evicted;
    }

    internal int EvictAll(EvictionReason reason)
    {
        var evicted = 0;
        while (_lruTail is { } grain)
        {
            Evict(grain, reason);
            evicted++;
        }

        return evicted;
    }

    private CartGrain GetOrActivate(ulong cartId, long now)
    {
        if (_grains.TryGetValue(cartId, out var grain))
        {
            return grain;
        }

        if (_activeCount >= _capacity)
        {
            EvictForCapacity();
        }

        grain = new CartGrain(CartModel.CreateEmpty(cartId, _context.Options.Currency), now);
        _grains[cartId] = grain;
        Volatile.Write(ref _activeCount, _activeCount + 1);
        _context.Observer?.OnActivated(cartId);
        return grain;
    }

    /// <summary>
    /// Least recently used goes first, with a second chance for carts that Gets touched since they were last
    /// reordered (Gets stamp the grain without entering the shard, so they cannot reorder the list).
    /// </summary>
    private void EvictForCapacity()
    {
        for (var attempt = 0; attempt < 8 && _lruTail is { } tail && tail != _lruHead; attempt++)
        {
            var lastAccess = tail.LastAccess;
            if (lastAccess <= tail.LruStamp)
            {
                break;
            }

            MoveToFront(tail, lastAccess);
        }

        if (_lruTail is { } victim)
        {
            Evict(victim, EvictionReason.Capacity);
        }
    }

    private void Evict(CartGrain grain, EvictionReason reason)
    {
        _grains.TryRemove(grain.Id, out _);
        Unlink(grain);
        Volatile.Write(ref _activeCount, _activeCount - 1);
        _context.Observer?.OnEvicted(grain.Id, grain.ExportRecord(), reason);
        grain.Retire();
        _context.Metrics.Evicted(reason);
    }

    private void MoveToFront(CartGrain grain, long stamp)
    {
        grain.LruStamp = stamp;
        if (_lruHead == grain)
        {
            return;
        }

        if (grain.LruPrevious is not null || grain.LruNext is not null || _lruTail == grain)
        {
            Unlink(grain);
        }

        grain.LruNext = _lruHead;
        if (_lruHead is not null)
        {
            _lruHead.LruPrevious = grain;
        }

        _lruHead = grain;
        _lruTail ??= grain;
    }

    private void Unlink(CartGrain grain)
    {
        if (grain.LruPrevious is not null)
        {
            grain.LruPrevious.LruNext = grain.LruNext;
        }
        else if (_lruHead == grain)
        {
            _lruHead = grain.LruNext;
        }

        if (grain.LruNext is not null)
        {
            grain.LruNext.LruPrevious = grain.LruPrevious;
        }
        else if (_lruTail == grain)
        {
            _lruTail = grain.LruPrevious;
        }

        grain.LruPrevious = null;
        grain.LruNext = null;
    }

    // ---- The run loop. ----

    private ApplyWork RentApply(ulong cartId, IReadOnlyList<Any> mutations, string? idempotencyKey, out short token)
    {
        var work = _applyPool.Get();
        work.Initialize(_applyPool, cartId, mutations, idempotencyKey);
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
    private void ExitAndHandOff()
    {
        // A full fence: the queue must be read after Idle is visible, or an enqueuer that saw Busy is lost.
        Interlocked.Exchange(ref _state, Idle);
        if (Volatile.Read(ref _queued) > 0 && Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Runs queued work with a budget; the caller holds Busy, and this leaves it Idle or re-scheduled.</summary>
    private void Drain()
    {
        var budget = _context.Options.ShardWorkBudget;
        while (true)
        {
            while (budget > 0 && _queue.TryDequeue(out var work))
            {
                Interlocked.Decrement(ref _queued);
                budget--;
                work.Execute(this);
            }

            if (budget == 0 && !_queue.IsEmpty)
            {
                // Out of budget: let other work use this thread and continue on the pool.
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }

            Interlocked.Exchange(ref _state, Idle);
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _state, Busy, Idle) != Idle)
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

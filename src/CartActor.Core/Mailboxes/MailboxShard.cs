using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using CartActor.Cart;
using CartActor.Cart.Messages;
using CartActor.Grains;
using CartActor.Packing;
using Google.Protobuf.WellKnownTypes;
using CartActor.Persistence;
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

    // Write-through (only with a store): carts changed in this pass, and the Applies whose answers wait for the write.
    private readonly Dictionary<ulong, CartGrain> _dirty = new();
    private readonly List<(ApplyWork Work, ApplyOutcome Outcome)> _unacknowledged = new();
    private readonly List<CartWrite> _writes = new();
    private readonly List<TaskCompletionSource<bool>> _afterWrite = new();

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
        // In memory only: an idle shard runs the Apply on the caller's thread. With a store, every Apply goes
        // through a pass, so that one write covers the pass and the answer waits for it.
        if (_context.Store is null && Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
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
        var outcome = grain.Apply(mutations, idempotencyKey, _context);
        if (_context.Store is not null && grain.Version != grain.PersistedVersion)
        {
            _dirty[cartId] = grain;
        }

        return outcome;
    }

    /// <summary>Answers an Apply now, or after this pass's write when its cart has an unwritten change.</summary>
    internal void Acknowledge(ApplyWork work, ApplyOutcome outcome)
    {
        if (_dirty.ContainsKey(work.CartId))
        {
            _unacknowledged.Add((work, outcome));
        }
        else
        {
            work.Succeed(outcome);
        }
    }

    /// <summary>A read of a cart that is not live: load it from the store (activating it) or answer empty.</summary>
    internal CartStateLease LeaseForRead(ulong cartId)
    {
        if (_grains.TryGetValue(cartId, out var live) && live.TryLease(out var lease))
        {
            return lease;
        }

        var record = LoadRecord(cartId);
        if (record is null)
        {
            return new CartStateLease(PackedState.Pack(new CartState { Id = cartId, Currency = _context.Options.Currency }));
        }

        var grain = Activate(cartId, new CartModel(record), _context.Time.GetTimestamp(), record.State.Version);
        return grain.TryLease(out var loaded) ? loaded : throw new UnreachableException();
    }

    public bool IsActive(ulong cartId) => _grains.ContainsKey(cartId);

    internal CartRecord? ExportRecord(ulong cartId) =>
        _grains.TryGetValue(cartId, out var grain) ? grain.ExportRecord() : null;

    /// <summary>Makes a record taken from another node live here, unless the cart is already live.</summary>
    /// <summary>
    /// Makes a record taken from another node live here, unless the cart is already live. With a store the
    /// returned task completes once the record is written here (the end of this pass), so the caller can
    /// tell the previous holder it may forget the cart only when this node would survive a crash with it.
    /// </summary>
    internal Task<bool> Import(CartRecord record)
    {
        var cartId = record.State.Id;
        if (_grains.ContainsKey(cartId))
        {
            return Task.FromResult(false);
        }

        var now = _context.Time.GetTimestamp();
        if (_activeCount >= _capacity)
        {
            EvictForCapacity();
        }

        var grain = new CartGrain(new CartModel(record), now, record.State.Version);
        _grains[cartId] = grain;
        Volatile.Write(ref _activeCount, _activeCount + 1);
        MoveToFront(grain, now);
        _context.Observer?.OnActivated(cartId);
        if (_context.Store is null)
        {
            return Task.FromResult(true);
        }

        // Taken from another node: this node's store must hold it before anything about it is acknowledged.
        _dirty[cartId] = grain;
        var written = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _afterWrite.Add(written);
        return written.Task;
    }

    /// <summary>
    /// Exports a cart for its new owner and drops it from memory here; null when this node has no copy. A
    /// node-local store keeps its copy until the new owner confirms it has written the cart
    /// (<see cref="ForgetHandedOff"/>): a reply lost on the way, or a new owner that dies before its write,
    /// must not lose the cart. Until then another take is served from that copy.
    /// </summary>
    internal CartRecord? HandOff(ulong cartId)
    {
        if (_grains.TryGetValue(cartId, out var grain))
        {
            var record = grain.ExportRecord();
            Evict(grain, EvictionReason.Handoff);
            return record;
        }

        return _context.Store is { IsShared: false } ? LoadRecord(cartId) : null;
    }

    /// <summary>
    /// The new owner has written the cart at <paramref name="version"/>: drop this node's local copy, so it
    /// never serves it stale later. Kept when the cart is live here again or the copy is newer.
    /// </summary>
    internal bool ForgetHandedOff(ulong cartId, ulong version)
    {
        if (_context.Store is not { IsShared: false } store || _grains.ContainsKey(cartId))
        {
            return false;
        }

        var record = LoadRecord(cartId);
        if (record is null || record.State.Version > version)
        {
            return false;
        }

        store.Delete(cartId);
        return true;
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

        var record = LoadRecord(cartId);
        return record is null
            ? Activate(cartId, CartModel.CreateEmpty(cartId, _context.Options.Currency), now, persistedVersion: 0)
            : Activate(cartId, new CartModel(record), now, record.State.Version);
    }

    private CartGrain Activate(ulong cartId, CartModel model, long now, ulong persistedVersion)
    {
        if (_activeCount >= _capacity)
        {
            EvictForCapacity();
        }

        var grain = new CartGrain(model, now, persistedVersion);
        _grains[cartId] = grain;
        Volatile.Write(ref _activeCount, _activeCount + 1);
        MoveToFront(grain, now);
        _context.Observer?.OnActivated(cartId);
        return grain;
    }

    private CartRecord? LoadRecord(ulong cartId)
    {
        var store = _context.Store;
        if (store is null)
        {
            return null;
        }

        CartRecord? record;
        try
        {
            record = store.Load(cartId);
        }
        catch (CartStoreException ex) when (ex.Error == CartStoreError.Corrupt)
        {
            throw new CartRuntimeException(CartRequestError.Corrupt, $"cart {cartId}: its stored record is unreadable ({ex.Message}); other carts are unaffected", ex);
        }
        catch (CartStoreException ex)
        {
            throw new CartRuntimeException(CartRequestError.StoreUnavailable, $"cart {cartId}: the {store.Name} store is unavailable ({ex.Message}); retry", ex);
        }

        if (record is not null && (record.State is null || record.State.Id != cartId))
        {
            throw new CartRuntimeException(CartRequestError.Corrupt, $"cart {cartId}: its stored record names cart {record.State?.Id ?? 0}; other carts are unaffected");
        }

        return record;
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
        try
        {
            _context.Observer?.OnEvicted(grain.Id, grain.ExportRecord(), reason);
        }
        finally
        {
            // An observer's failure must not leave a half-evicted grain behind.
            grain.Retire();
            _context.Metrics.Evicted(reason);
        }
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

            if (_dirty.Count > 0)
            {
                var flush = FlushAsync();
                if (!flush.IsCompleted)
                {
                    // The shard stays Busy while its write is in flight; the next pass starts when it lands.
                    _ = ContinueAfterFlushAsync(flush);
                    return;
                }

                flush.GetAwaiter().GetResult();
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

    private async Task ContinueAfterFlushAsync(ValueTask flush)
    {
        await flush.ConfigureAwait(false);
        Drain();
    }

    /// <summary>
    /// Writes every cart this pass changed as one batch, then answers the Applies that waited for it. A
    /// failed write acknowledges nothing: the changed carts are dropped from memory (their stored record
    /// is still the last acknowledged state) and their callers get a retryable error. Never throws.
    /// </summary>
    private async ValueTask FlushAsync()
    {
        var store = _context.Store!;
        _writes.Clear();
        foreach (var grain in _dirty.Values)
        {
            _writes.Add(new CartWrite(grain.Id, grain.Record, grain.PersistedVersion));
        }

        IReadOnlyCollection<ulong> conflicts;
        Exception? failure = null;
        try
        {
            var write = store.WriteAsync(_writes);
            conflicts = write.IsCompletedSuccessfully ? write.Result : await write.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            conflicts = [];
            failure = new CartRuntimeException(CartRequestError.StoreUnavailable, $"the {store.Name} store did not take the write ({ex.Message}); nothing was acknowledged, retry", ex);
        }

        foreach (var grain in _dirty.Values)
        {
            if (failure is null && !conflicts.Contains(grain.Id))
            {
                grain.PersistedVersion = grain.Version;
            }
            else if (_grains.TryGetValue(grain.Id, out var live) && ReferenceEquals(live, grain))
            {
                Evict(grain, EvictionReason.Rollback);
            }
        }

        foreach (var (work, outcome) in _unacknowledged)
        {
            if (failure is not null)
            {
                outcome.Dispose();
                work.Fail(failure);
            }
            else if (conflicts.Contains(work.CartId))
            {
                outcome.Dispose();
                work.Fail(new CartRuntimeException(CartRequestError.Conflict, $"cart {work.CartId} was changed by another node first; this copy was dropped and the next request reloads it from the store: retry"));
            }
            else
            {
                work.Succeed(outcome);
            }
        }

        foreach (var waiter in _afterWrite)
        {
            if (failure is null)
            {
                waiter.TrySetResult(true);
            }
            else
            {
                waiter.TrySetException(failure);
            }
        }

        _dirty.Clear();
        _unacknowledged.Clear();
        _writes.Clear();
        _afterWrite.Clear();
    }

    [DoesNotReturn]
    [StackTraceHidden]
    private static void ThrowOverloaded() =>
        throw new CartRuntimeException(CartRequestError.Overloaded, "the cart's mailbox shard is full; retry after a short back-off");
}

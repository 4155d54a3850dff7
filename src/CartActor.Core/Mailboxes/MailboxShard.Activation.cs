using System.Collections.Concurrent;
using System.Diagnostics;
using CartActor.Cart;
using CartActor.Cart.Messages;
using CartActor.Grains;
using CartActor.Packing;
using CartActor.Persistence;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Mailboxes;

/// <summary>
/// Activation and eviction: which carts are live on this shard, their LRU order, loading a cart from the
/// store on first touch and dropping it (idle, capacity, a ring change, shutdown). Everything that changes
/// this state runs on the shard (the holder of Busy); readers only look up <see cref="_grains"/>.
/// </summary>
internal sealed partial class MailboxShard
{
    private readonly ConcurrentDictionary<ulong, CartGrain> _grains = new();
    private readonly int _capacity;
    private int _activeCount;
    private CartGrain? _lruHead;
    private CartGrain? _lruTail;

    public int ActiveCount => Volatile.Read(ref _activeCount);

    public ICollection<ulong> CartIds => _grains.Keys;

    public bool IsActive(ulong cartId) => _grains.ContainsKey(cartId);

    /// <param name="caller">The span the Apply was called under (default when untraced): the parent of a store load.</param>
    internal ApplyOutcome ApplyNow(ulong cartId, IReadOnlyList<Any> mutations, string? idempotencyKey, ActivityContext caller)
    {
        var now = _context.Time.GetTimestamp();
        var grain = GetOrActivate(cartId, now, caller);
        grain.Touch(now);
        MoveToFront(grain, now);
        var outcome = grain.Apply(mutations, idempotencyKey, _context);
        if (_context.Store is not null && grain.Version != grain.WrittenVersion)
        {
            _dirty[cartId] = grain;
        }

        return outcome;
    }

    /// <summary>A read of a cart that is not live: load it from the store (activating it) or answer empty.</summary>
    internal CartStateLease LeaseForRead(ulong cartId, ActivityContext caller)
    {
        if (_grains.TryGetValue(cartId, out var live) && live.TryLease(out var lease))
        {
            return lease;
        }

        var record = LoadRecord(cartId, caller);
        if (record is null)
        {
            return new CartStateLease(PackedState.Pack(new CartState { Id = cartId, Currency = _context.Options.Currency }));
        }

        var grain = Activate(cartId, new CartModel(record), _context.Time.GetTimestamp(), record.State.Version);
        return grain.TryLease(out var loaded) ? loaded : throw new UnreachableException();
    }

    internal CartRecord? ExportRecord(ulong cartId) =>
        _grains.TryGetValue(cartId, out var grain) ? grain.ExportRecord() : null;

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

    /// <summary>
    /// Evicts every cart <paramref name="drop"/> selects (a ring change: the carts this node no longer owns).
    /// Their records are already written (an Apply is acknowledged only after its write), so nothing is lost;
    /// a change of this pass still unwritten is written and answered by the pass as usual.
    /// </summary>
    internal int EvictWhere(Func<ulong, bool> drop, EvictionReason reason)
    {
        var evicted = 0;
        var grain = _lruTail;
        while (grain is not null)
        {
            var previous = grain.LruPrevious;
            if (drop(grain.Id))
            {
                Evict(grain, reason);
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

    private CartGrain GetOrActivate(ulong cartId, long now, ActivityContext caller)
    {
        if (_grains.TryGetValue(cartId, out var grain))
        {
            return grain;
        }

        var record = LoadRecord(cartId, caller);
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

    private CartRecord? LoadRecord(ulong cartId, ActivityContext caller)
    {
        var store = _context.Store;
        if (store is null)
        {
            return null;
        }

        var span = Diagnostics.CartTracing.StartStoreLoad(store.Name, cartId, caller);
        if (span is null)
        {
            return LoadRecord(store, cartId);
        }

        try
        {
            var record = LoadRecord(store, cartId);
            Diagnostics.CartTracing.EndStoreLoad(span, hit: record is not null, failure: null);
            return record;
        }
        catch (Exception ex)
        {
            Diagnostics.CartTracing.EndStoreLoad(span, hit: false, ex);
            throw;
        }
    }

    private static CartRecord? LoadRecord(ICartStore store, ulong cartId)
    {
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

        // Never a cart with a change this pass has not written: reloading it later in the pass would read the
        // record before that change, and the change would be acknowledged but lost. If every candidate is such a
        // cart, the shard runs over capacity by at most the carts of one pass, until the next activation.
        var victim = _lruTail;
        while (victim is not null && _dirty.ContainsKey(victim.Id))
        {
            victim = victim.LruPrevious;
        }

        if (victim is not null)
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
}

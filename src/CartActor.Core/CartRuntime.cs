using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using CartActor.Cart;
using CartActor.Cart.Messages;
using CartActor.Diagnostics;
using CartActor.Grains;
using CartActor.Hashing;
using CartActor.Mailboxes;
using CartActor.Packing;
using Google.Protobuf.WellKnownTypes;

namespace CartActor;

/// <summary>
/// The in-process cart API the gRPC layer calls: Apply and Get by cart id, routed to the cart's mailbox
/// shard. Validates requests and owns the shards. Idle carts are swept every <see cref="CartRuntimeOptions.SweepInterval"/>:
/// on the runtime's own timer, or, for a host whose one heartbeat drives every timer (the node), on its calls to
/// <see cref="SweepIdleIfDue"/> (construct with <c>ownSweepTimer: false</c>).
/// </summary>
public sealed class CartRuntime : IAsyncDisposable
{
    private readonly MailboxShard[] _shards;
    private readonly CartRuntimeContext _context;
    private readonly ITimer? _sweepTimer;
    private long _lastSweep;
    private int _disposed;

    public CartRuntime(
        CartRuntimeOptions options,
        TimeProvider? time = null,
        ICartLifecycleObserver? observer = null,
        MutationRegistry? registry = null,
        IMeterFactory? meterFactory = null,
        Persistence.ICartStore? store = null,
        CartChangeFeed? changes = null,
        bool ownSweepTimer = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problem = options.Validate();
        if (problem is not null)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        Options = options;
        Time = time ?? TimeProvider.System;
        registry ??= MutationRegistry.Default;
        Metrics = new CartMetrics(meterFactory, registry.Handlers.Select(h => h.Name));
        Store = store;
        Changes = changes;
        _context = new CartRuntimeContext(options, registry, Time, Metrics, observer, store, changes);
        var perShardCapacity = (int)Math.Max(1, ((long)options.MaxActiveCarts + options.ShardCount - 1) / options.ShardCount);
        _shards = new MailboxShard[options.ShardCount];
        for (var i = 0; i < _shards.Length; i++)
        {
            _shards[i] = new MailboxShard(_context, perShardCapacity);
        }

        Metrics.Observe(() => ActiveCarts, () => QueueDepth);
        if (store is not null)
        {
            Metrics.StoreOpened(store.Name);
        }
        _lastSweep = Time.GetTimestamp();
        _sweepTimer = ownSweepTimer
            ? Time.CreateTimer(static state => ((CartRuntime)state!).StartSweep(), this, options.SweepInterval, options.SweepInterval)
            : null;
    }

    public CartRuntimeOptions Options { get; }

    /// <summary>Watchers of carts on this runtime (WatchCart), woken after each changing batch; null when nobody can watch.</summary>
    public CartChangeFeed? Changes { get; }

    public TimeProvider Time { get; }

    public CartMetrics Metrics { get; }

    /// <summary>The durable store written through before each acknowledgement, or null (memory only).</summary>
    public Persistence.ICartStore? Store { get; }

    public int ShardCount => _shards.Length;

    public long ActiveCarts
    {
        get
        {
            long total = 0;
            foreach (var shard in _shards)
            {
                total += shard.ActiveCount;
            }

            return total;
        }
    }

    public long QueueDepth
    {
        get
        {
            long total = 0;
            foreach (var shard in _shards)
            {
                total += shard.QueueDepth;
            }

            return total;
        }
    }

    /// <summary>
    /// Applies <paramref name="mutations"/> in order to cart <paramref name="cartId"/> and returns the state
    /// after the batch with one result per mutation. Dispose the outcome once it has been written out.
    /// A repeated <paramref name="idempotencyKey"/> returns the first result and applies nothing.
    /// With a store, the answer comes after the write: the caller's continuation runs on the thread pool on its own,
    /// never inline behind another caller's, so a caller may block on another Apply without deadlocking the shard.
    /// </summary>
    /// <exception cref="CartRuntimeException">Invalid request, or the cart's shard is overloaded.</exception>
    public ValueTask<ApplyOutcome> ApplyAsync(ulong cartId, IReadOnlyList<Any> mutations, string? idempotencyKey = null)
    {
        if (cartId == 0)
        {
            ThrowInvalid("id must not be 0");
        }

        if (mutations is null || mutations.Count == 0)
        {
            ThrowInvalid("messages must hold at least one mutation");
        }

        if (mutations.Count > Options.MaxMutationsPerApply)
        {
            ThrowInvalid($"messages holds {mutations.Count} mutations; at most {Options.MaxMutationsPerApply} are accepted in one Apply");
        }

        for (var i = 0; i < mutations.Count; i++)
        {
            if (mutations[i] is null)
            {
                ThrowInvalid($"messages[{i}] is null");
            }
        }

        if (idempotencyKey is not null && (idempotencyKey.Length == 0 || idempotencyKey.Length > Options.MaxIdempotencyKeyLength))
        {
            ThrowInvalid($"idempotency-key must be 1..{Options.MaxIdempotencyKeyLength} characters");
        }

        return ShardOf(cartId).ApplyAsync(cartId, mutations, idempotencyKey);
    }

    /// <summary>
    /// The cart's current state, lock-free and without allocation for a live cart. An untouched cart reads
    /// as empty, OPEN, version 0, and is not activated. Dispose the lease once the state has been written out.
    /// </summary>
    public CartStateLease Get(ulong cartId)
    {
        if (cartId == 0)
        {
            ThrowInvalid("id must not be 0");
        }

        if (ShardOf(cartId).TryLease(cartId, out var lease))
        {
            return lease;
        }

        if (Store is not null)
        {
            throw new InvalidOperationException("With a store, a cart that is not live must be read with GetAsync (it may need loading).");
        }

        return new CartStateLease(PackedState.Pack(new CartState { Id = cartId, Currency = Options.Currency }));
    }

    /// <summary>
    /// The cart's current state. Synchronous and allocation-free for a live cart; with a store, a cart that
    /// is not live is loaded (and activated) on its shard first.
    /// </summary>
    public ValueTask<CartStateLease> GetAsync(ulong cartId)
    {
        if (Store is null)
        {
            return new ValueTask<CartStateLease>(Get(cartId));
        }

        if (cartId == 0)
        {
            ThrowInvalid("id must not be 0");
        }

        var shard = ShardOf(cartId);
        return shard.TryLease(cartId, out var lease)
            ? new ValueTask<CartStateLease>(lease)
            : new ValueTask<CartStateLease>(LoadForRead(shard, cartId));
    }

    /// <summary>
    /// Loads a cart that is not live on its shard. Apart from GetAsync so that the live path allocates no closure;
    /// the caller's span goes with the work, as the load may run on another thread (the store load's parent).
    /// </summary>
    private static Task<CartStateLease> LoadForRead(MailboxShard shard, ulong cartId)
    {
        var caller = CartTracing.CaptureCaller();
        return shard.RunAsync(s => s.LeaseForRead(cartId, caller), bypassLimit: false);
    }

    /// <summary>True when the cart is live in this node's memory.</summary>
    public bool IsActive(ulong cartId) => ShardOf(cartId).IsActive(cartId);

    /// <summary>The ids of carts live on this node (a moment's view; carts may come and go meanwhile).</summary>
    public List<ulong> GetLocalCartIds()
    {
        var ids = new List<ulong>((int)Math.Min(ActiveCarts + 16, int.MaxValue));
        foreach (var shard in _shards)
        {
            ids.AddRange(shard.CartIds);
        }

        return ids;
    }

    /// <summary>A copy of the cart's record (state, id counters, idempotency keys), read in order on its shard.</summary>
    public Task<CartRecord?> ExportAsync(ulong cartId) =>
        ShardOf(cartId).RunAsync(shard => shard.ExportRecord(cartId), bypassLimit: true);

    /// <summary>
    /// Evicts from memory every live cart <paramref name="drop"/> selects, in order with each shard's other
    /// work (a ring change: the carts this node no longer owns; their records are already written). Returns
    /// how many went. <paramref name="drop"/> runs on the shards, concurrently, never on the caller: the call
    /// returns once the drop is queued on every shard (see <see cref="MailboxShard.PostAsync{T}"/>).
    /// </summary>
    public async Task<int> EvictWhereAsync(Func<ulong, bool> drop, EvictionReason reason)
    {
        ArgumentNullException.ThrowIfNull(drop);
        var evictions = new Task<int>[_shards.Length];
        for (var i = 0; i < _shards.Length; i++)
        {
            evictions[i] = _shards[i].PostAsync(shard => shard.EvictWhere(drop, reason), bypassLimit: true);
        }

        return (await Task.WhenAll(evictions).ConfigureAwait(false)).Sum();
    }

    /// <summary>Evicts idle carts on every shard now; returns how many went.</summary>
    public async Task<int> SweepIdleAsync()
    {
        var sweeps = new Task<int>[_shards.Length];
        for (var i = 0; i < _shards.Length; i++)
        {
            sweeps[i] = _shards[i].PostAsync(static shard => shard.SweepIdle(), bypassLimit: true);
        }

        return (await Task.WhenAll(sweeps).ConfigureAwait(false)).Sum();
    }

    /// <summary>Evicts every cart (eviction callbacks run); used at shutdown.</summary>
    public async Task<int> EvictAllAsync(EvictionReason reason = EvictionReason.Shutdown)
    {
        var evictions = new Task<int>[_shards.Length];
        for (var i = 0; i < _shards.Length; i++)
        {
            evictions[i] = _shards[i].PostAsync(shard => shard.EvictAll(reason), bypassLimit: true);
        }

        return (await Task.WhenAll(evictions).ConfigureAwait(false)).Sum();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_sweepTimer is not null)
        {
            await _sweepTimer.DisposeAsync().ConfigureAwait(false);
        }
        Metrics.Dispose();
    }

    internal MailboxShard ShardOf(ulong cartId)
    {
        var hash = CartHash.Hash(cartId, CartHash.ShardSeed);
        return _shards[(int)Math.BigMul(hash, (ulong)_shards.Length, out _)];
    }

    /// <summary>
    /// Called by the host's heartbeat (one caller at a time): starts an idle sweep when the sweep interval has
    /// passed since the last one. Never blocks: the sweep is queued on each shard.
    /// </summary>
    public void SweepIdleIfDue()
    {
        if (Volatile.Read(ref _disposed) != 0 || Time.GetElapsedTime(_lastSweep) < Options.SweepInterval)
        {
            return;
        }

        _lastSweep = Time.GetTimestamp();
        StartSweep();
    }

    private void StartSweep()
    {
        // Timer callbacks must not block; a sweep queues behind live work on each shard. A full shard skips this round.
        foreach (var shard in _shards)
        {
            _ = shard.PostAsync(static s => s.SweepIdle(), bypassLimit: false);
        }
    }

    [DoesNotReturn]
    [StackTraceHidden]
    private static void ThrowInvalid(string message) =>
        throw new CartRuntimeException(CartRequestError.InvalidArgument, message);
}

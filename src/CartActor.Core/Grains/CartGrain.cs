using CartActor.Cart;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Packing;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Grains;

/// <summary>
/// One live cart. Its model, idempotency window and LRU links are touched only by the cart's mailbox shard
/// (single writer). Any thread may lease the current packed state through <see cref="TryLease"/> and stamp
/// <see cref="LastAccess"/>; both are lock-free.
/// </summary>
public sealed class CartGrain
{
    private readonly CartModel _model;
    private PackedState _current;
    private bool _retired;
    private WindowSize _windowSize;
    private long _lastAccess;

    internal CartGrain(CartModel model, long now, ulong persistedVersion = 0)
    {
        _model = model;
        PersistedVersion = persistedVersion;
        WrittenVersion = persistedVersion;
        _current = PackedState.Pack(model.State);
        _lastAccess = now;
        LruStamp = now;
    }

    public ulong Id => _model.State.Id;

    public ulong Version => _model.State.Version;

    /// <summary>The version the durable store is known to hold (shard-only): its last confirmed write or its load.</summary>
    internal ulong PersistedVersion { get; set; }

    /// <summary>
    /// The version of the newest write issued for this cart, confirmed or still in flight (shard-only): the
    /// base of the next compare-and-set write. Equal to <see cref="PersistedVersion"/> with nothing in flight.
    /// </summary>
    internal ulong WrittenVersion { get; set; }

    /// <summary>
    /// Tags this copy's writes in a shared store (never 0), so a pipelined write that expects the version of
    /// this copy's previous write cannot be mistaken for a write of the same version by another node.
    /// </summary>
    internal ulong WriterTag { get; } = (ulong)Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>The live record, for the shard's write-through (the shard is busy until the write completes).</summary>
    internal CartRecord Record => _model.Record;

    /// <summary>Timestamp (TimeProvider ticks) of the last Apply or Get; readers write it without the shard.</summary>
    public long LastAccess => Volatile.Read(ref _lastAccess);

    // LRU links and the stamp of the last reordering: shard-only.
    internal CartGrain? LruPrevious;
    internal CartGrain? LruNext;
    internal long LruStamp;

    internal void Touch(long now) => Volatile.Write(ref _lastAccess, now);

    /// <summary>Leases the current packed state; false once the grain has been evicted.</summary>
    public bool TryLease(out CartStateLease lease)
    {
        PackedState? failed = null;
        while (true)
        {
            var packed = Volatile.Read(ref _current);
            if (packed.TryAcquire())
            {
                lease = new CartStateLease(packed);
                return true;
            }

            if (Volatile.Read(ref _retired))
            {
                lease = default;
                return false;
            }

            if (ReferenceEquals(packed, failed) && ReferenceEquals(packed, Volatile.Read(ref _current)))
            {
                // The current version lost its last reference without being replaced: a lease was disposed twice.
                throw new InvalidOperationException($"cart {Id}: its current state was released more often than leased (a lease disposed twice)");
            }

            failed = packed;
        }
    }

    /// <summary>
    /// Applies a batch in order. Failed mutations leave the cart untouched and are reported; the rest still
    /// apply. The state is re-packed once per batch, and only when something changed.
    /// </summary>
    internal ApplyOutcome Apply(IReadOnlyList<Any> mutations, string? idempotencyKey, CartRuntimeContext context)
    {
        byte[]? digest = null;
        if (idempotencyKey is not null && IdempotencyWindow.TryReplay(_model.Record, idempotencyKey, mutations, context.Registry, ref digest, out var replay))
        {
            return replay.State is null ? Current(replay, isReplay: true) : new ApplyOutcome(replay, null, isReplay: true);
        }

        var result = new ApplyResult();
        var changed = 0u;
        for (var i = 0; i < mutations.Count; i++)
        {
            var mutation = mutations[i];
            var outcome = context.Registry.Apply(_model, mutation, out var typeName);
            var entry = new MutationResult { Type = typeName, Message = mutation };
            if (outcome.IsFailed)
            {
                if (outcome.AbortsBatch && changed == 0)
                {
                    // Nothing of the batch has changed the cart: refusing it whole leaves the cart as it was.
                    ThrowVersionMismatch(outcome.Error!);
                }

                entry.Error = outcome.Error;
                context.Metrics.MutationFailed(typeName);
            }
            else
            {
                if (outcome.IsChanged)
                {
                    changed++;
                }

                context.Metrics.MutationApplied(typeName);
            }

            result.Mutations.Add(entry);
        }

        if (changed > 0)
        {
            var state = _model.State;
            state.Version += changed;
            state.UpdatedAtUnixMs = context.Time.GetUtcNow().ToUnixTimeMilliseconds();
            _model.RecomputeTotals();
            var previous = _current;
            Volatile.Write(ref _current, PackedState.Pack(state));
            previous.Release();
            context.Changes?.Publish(Id);
        }

        // Only a call that changed the cart is remembered: one that changed nothing (every mutation refused)
        // has nothing to protect, and its entry would never be written to the store.
        if (idempotencyKey is not null && changed > 0)
        {
            IdempotencyWindow.Remember(_model.Record, idempotencyKey, digest ?? IdempotencyWindow.Digest(Id, mutations), result, Version, context.Options, ref _windowSize);
        }

        return Current(result, isReplay: false);
    }

    /// <summary>Completes <paramref name="result"/> with a lease on the current packed state.</summary>
    private ApplyOutcome Current(ApplyResult result, bool isReplay)
    {
        var packed = _current;
        packed.TryAcquire();
        result.State = packed.Any;
        return new ApplyOutcome(result, packed, isReplay);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [System.Diagnostics.StackTraceHidden]
    private static void ThrowVersionMismatch(string error) =>
        throw new CartRuntimeException(CartRequestError.VersionMismatch, error);

    /// <summary>A deep copy of everything the cart owns, for persistence and handoff.</summary>
    public CartRecord ExportRecord() => _model.Record.Clone();

    /// <summary>Drops the grain's reference to its packed state; leases already taken stay valid.</summary>
    internal void Retire()
    {
        Volatile.Write(ref _retired, true);
        _current.Release();
    }
}

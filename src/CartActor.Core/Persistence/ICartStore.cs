using CartActor.Cart.Messages;

namespace CartActor.Persistence;

/// <summary>
/// Durable home of cart records (state, id counters, idempotency keys). The runtime writes through it
/// before it acknowledges a change: everything one mailbox shard applied in one pass goes out as one
/// <see cref="WriteAsync"/> call. Called only from a shard, from many shards at once; a shard may have
/// several writes in flight (pipelined passes) and needs them to land in the order it issued them.
/// </summary>
public interface ICartStore : IDisposable
{
    /// <summary>A short name for logs and metrics ("rocksdb", "redis").</summary>
    string Name { get; }

    /// <summary>
    /// True when every node reads and writes the same store (Redis): a new owner loads a cart itself and
    /// writes compare-and-set. False for a node's own store (RocksDB): fit for one node only, a cluster refuses it.
    /// </summary>
    bool IsShared { get; }

    /// <summary>False while the store is known to be unreachable (a cheap check, polled for readiness). Default true.</summary>
    bool IsAvailable => true;

    /// <summary>
    /// Episodes since the store opened in which it refused writes after one failed (a full disk, an I/O error)
    /// and healed by itself (<see cref="IsAvailable"/> is false while one lasts). Polled for readiness, so an
    /// episode shorter than a poll is still reported. 0 for stores without them.
    /// </summary>
    long WriteFaults => 0;

    /// <summary>The cause of the latest <see cref="WriteFaults"/> episode, kept after it healed; null before any.</summary>
    string? LastWriteFault => null;

    /// <summary>The cart's record, or null when the store has none.</summary>
    /// <exception cref="CartStoreException">The record is unreadable (<see cref="CartStoreError.Corrupt"/>) or the store is unreachable.</exception>
    CartRecord? Load(ulong cartId);

    /// <summary>
    /// Writes a batch. Each write names the version its writer last loaded or wrote: a shared store refuses
    /// (and returns the id of) a write whose stored version has moved on, so two writers can never fork a
    /// cart. Returns the ids that conflicted; all others were written.
    /// Contract with the pipelined shard: every record must have been read (serialised, copied) before this
    /// method returns, because the shard applies its next pass to the same live records while the write is
    /// in flight; and writes one shard issues must take effect in the order it issued them (a later write
    /// may expect the version an earlier one, still in flight, writes).
    /// </summary>
    /// <exception cref="CartStoreException">Nothing of the batch is known to be written.</exception>
    ValueTask<IReadOnlyCollection<ulong>> WriteAsync(IReadOnlyList<CartWrite> writes);

    /// <summary>Deletes one record (operators and tests; the runtime itself never deletes a cart).</summary>
    void Delete(ulong cartId);

    /// <summary>Deletes records last updated before <paramref name="cutoff"/>; returns how many went.</summary>
    Task<long> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}

/// <summary>
/// One cart's new record and the version its writer based it on. <paramref name="Writer"/> tags the write
/// with the writer's identity (one live copy of the cart on one node; 0: untagged). A non-zero
/// <paramref name="ExpectedWriter"/> says the expected version is that writer's own write, possibly still in
/// flight: a shared store then also requires the stored record to carry that tag, because a version number
/// alone cannot tell our pipelined version from the same number written by another node (a fork).
/// </summary>
public readonly record struct CartWrite(ulong CartId, CartRecord Record, ulong ExpectedVersion, ulong Writer = 0, ulong ExpectedWriter = 0);

public enum CartStoreError
{
    /// <summary>The store could not be reached or refused the operation: retryable.</summary>
    Unavailable,

    /// <summary>The stored record cannot be decoded: that cart fails until an operator repairs or deletes it.</summary>
    Corrupt,
}

public sealed class CartStoreException(CartStoreError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public CartStoreError Error { get; } = error;
}

using System.Buffers.Binary;
using RocksDbSharp;

namespace CartActor.Persistence.RocksDb;

/// <summary>Writes: a shard pass as one atomic batch (inline, or through the committer when synced), and deletes.</summary>
public sealed partial class RocksDbCartStore
{
    /// <summary>
    /// Writes the whole batch atomically. <see cref="DurabilityMode.Os"/>: one RocksDB write on the caller's thread,
    /// completed synchronously (an unsynced write costs a few µs, less than a hop to another thread and back).
    /// <see cref="DurabilityMode.Fsync"/>: the envelopes are encoded here, then the <see cref="RocksDbCommitter"/>
    /// writes them with every other ready batch under one sync, off the thread pool; the task completes after that
    /// sync. The expected versions are not checked: this store has one writer per cart, its owner. A failed write
    /// starts a recovery episode (see the Recovery partial): until it ends, writes fail at once, naming its cause.
    /// </summary>
    public ValueTask<IReadOnlyCollection<ulong>> WriteAsync(IReadOnlyList<CartWrite> writes)
    {
        ArgumentNullException.ThrowIfNull(writes);
        if (writes.Count == 0)
        {
            return new ValueTask<IReadOnlyCollection<ulong>>(NoConflicts);
        }

        if (_committer is not null)
        {
            return Submit(_committer, writes);
        }

        try
        {
            ThrowIfFaulted();
            Write(writes);
        }
        catch (RocksDbException ex)
        {
            EnterFault(ex.Message);
            return ValueTask.FromException<IReadOnlyCollection<ulong>>(Unavailable($"writing {writes.Count} cart(s)", ex));
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<IReadOnlyCollection<ulong>>(
                ex as CartStoreException ?? Unavailable($"writing {writes.Count} cart(s)", ex));
        }

        return new ValueTask<IReadOnlyCollection<ulong>>(NoConflicts);
    }

    /// <exception cref="CartStoreException">The store is closed, refuses writes (an episode), or the delete failed.</exception>
    public void Delete(ulong cartId)
    {
        Span<byte> key = stackalloc byte[KeySize];
        BinaryPrimitives.WriteUInt64BigEndian(key, cartId);
        ThrowIfFaulted();
        _gate.EnterReadLock();
        try
        {
            Db().Remove(key, null, _writeOptions);
        }
        catch (RocksDbException ex)
        {
            EnterFault(ex.Message);
            throw Unavailable($"cart {cartId}: deleting its record", ex);
        }
        finally
        {
            _gate.ExitReadLock();
        }
    }

    private void Write(IReadOnlyList<CartWrite> writes)
    {
        var scratch = _scratchPool.Get();
        try
        {
            var batch = scratch.Batch;
            Span<byte> key = stackalloc byte[KeySize];
            for (var i = 0; i < writes.Count; i++)
            {
                var write = writes[i];
                var payloadSize = write.Record.CalculateSize();
                var value = scratch.Buffer(RecordEnvelope.SizeOf(payloadSize));
                RecordEnvelope.Encode(write.Record, payloadSize, value);
                BinaryPrimitives.WriteUInt64BigEndian(key, write.CartId);
                batch.Put(key, value);
            }

            _gate.EnterReadLock();
            try
            {
                Db().Write(batch, _writeOptions);
            }
            finally
            {
                _gate.ExitReadLock();
            }
        }
        finally
        {
            _scratchPool.Return(scratch);
        }
    }

    /// <summary>Encodes the batch on the caller's thread (the records may change once this returns) and queues it.</summary>
    private ValueTask<IReadOnlyCollection<ulong>> Submit(RocksDbCommitter committer, IReadOnlyList<CartWrite> writes)
    {
        if (_fault is { } fault)
        {
            return ValueTask.FromException<IReadOnlyCollection<ulong>>(Refused(fault));
        }

        var pending = committer.Rent();
        try
        {
            for (var i = 0; i < writes.Count; i++)
            {
                var write = writes[i];
                var payloadSize = write.Record.CalculateSize();
                RecordEnvelope.Encode(write.Record, payloadSize, pending.Append(write.CartId, RecordEnvelope.SizeOf(payloadSize)));
            }
        }
        catch (Exception ex)
        {
            pending.Recycle();
            return ValueTask.FromException<IReadOnlyCollection<ulong>>(Unavailable($"encoding {writes.Count} cart(s)", ex));
        }

        return committer.Submit(pending);
    }

    /// <summary>
    /// The committer's write: every batch of the group in one atomic <see cref="WriteBatch"/>, one WAL append and one
    /// sync. Null on success; otherwise the failure every batch of the group gets (a failed write also starts a
    /// recovery episode). Runs on the committer's thread only.
    /// </summary>
    internal CartStoreException? WriteGroup(List<PendingCommit> group, WriteBatch batch)
    {
        var carts = 0;
        try
        {
            ThrowIfFaulted();
            batch.Clear();
            Span<byte> key = stackalloc byte[KeySize];
            foreach (var pending in group)
            {
                for (var i = 0; i < pending.Count; i++)
                {
                    var value = pending.Value(i, out var cartId);
                    BinaryPrimitives.WriteUInt64BigEndian(key, cartId);
                    batch.Put(key, value);
                }

                carts += pending.Count;
            }

            _gate.EnterReadLock();
            try
            {
                BeforeGroupWrite?.Invoke(group.Count);
                Db().Write(batch, _writeOptions);
            }
            finally
            {
                _gate.ExitReadLock();
            }

            return null;
        }
        catch (CartStoreException ex)
        {
            return ex;
        }
        catch (Exception ex)
        {
            // RocksDB's own failure, or any other: the outcome of the write is unknown, so the episode's probe decides.
            EnterFault(ex.Message);
            return Unavailable($"writing {carts} cart(s) of {group.Count} batch(es) under one sync", ex);
        }
    }
}

using System.Buffers.Binary;
using RocksDbSharp;

namespace CartActor.Persistence.RocksDb;

/// <summary>Writes: a shard pass as one atomic batch, and deletes.</summary>
public sealed partial class RocksDbCartStore
{
    /// <summary>
    /// Writes the whole batch as one atomic RocksDB write; completes synchronously (the shard waits for the
    /// write either way, and a synchronous answer lets it skip an async hop). The expected versions are not
    /// checked: this store has one writer per cart, its owner. A failed write starts a recovery episode (see the
    /// Recovery partial): until it ends, writes fail at once, naming its cause.
    /// </summary>
    public ValueTask<IReadOnlyCollection<ulong>> WriteAsync(IReadOnlyList<CartWrite> writes)
    {
        ArgumentNullException.ThrowIfNull(writes);
        if (writes.Count == 0)
        {
            return new ValueTask<IReadOnlyCollection<ulong>>(NoConflicts);
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
}

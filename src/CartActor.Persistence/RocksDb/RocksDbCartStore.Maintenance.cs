using RocksDbSharp;

namespace CartActor.Persistence.RocksDb;

/// <summary>Maintenance: the retention sweep, which deletes records not updated since a cutoff.</summary>
public sealed partial class RocksDbCartStore
{
    // The sweep reads at most this many entries per hold of the shared gate and deletes at most this many per
    // exclusive hold, so writers wait for one small batch at most.
    private const int SweepScanChunk = 1024;
    private const int SweepDeleteBatch = 256;

    /// <summary>
    /// Deletes every record whose envelope says it was last updated before <paramref name="cutoff"/>. Runs on the
    /// thread pool, never on the caller's thread. Records whose envelope is unreadable are left for an operator.
    /// </summary>
    public Task<long> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var cutoffUnixMs = cutoff.ToUnixTimeMilliseconds();
        return Task.Run(() => Sweep(cutoffUnixMs, cancellationToken), cancellationToken);
    }

    private long Sweep(long cutoffUnixMs, CancellationToken cancellationToken)
    {
        ThrowIfFaulted();
        var deleted = 0L;
        var candidates = new List<byte[]>(SweepDeleteBatch);
        byte[]? resumeAt = null;
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            candidates.Clear();
            resumeAt = ScanForExpired(resumeAt, cutoffUnixMs, candidates);
            if (candidates.Count > 0)
            {
                deleted += DeleteIfStillExpired(candidates, cutoffUnixMs);
            }
        }
        while (resumeAt is not null);

        return deleted;
    }

    /// <summary>
    /// Collects the keys of expired records from <paramref name="from"/> on (the start when null), for at most
    /// one chunk; returns the key to resume at, or null at the end.
    /// </summary>
    private byte[]? ScanForExpired(byte[]? from, long cutoffUnixMs, List<byte[]> candidates)
    {
        _gate.EnterReadLock();
        try
        {
            using var iterator = Db().NewIterator(null, _sweepReadOptions);
            if (from is null)
            {
                iterator.SeekToFirst();
            }
            else
            {
                iterator.Seek(from);
            }

            for (var scanned = 0; iterator.Valid(); scanned++)
            {
                if (scanned == SweepScanChunk || candidates.Count == SweepDeleteBatch)
                {
                    return iterator.Key();
                }

                if (IsExpired(iterator.GetKeySpan(), iterator.GetValueSpan(), cutoffUnixMs))
                {
                    candidates.Add(iterator.Key());
                }

                iterator.Next();
            }

            return null;
        }
        catch (RocksDbException ex)
        {
            throw Unavailable("scanning for expired carts", ex);
        }
        finally
        {
            _gate.ExitReadLock();
        }
    }

    /// <summary>Deletes the candidates still expired, alone on the gate so no write can slip in between.</summary>
    private int DeleteIfStillExpired(List<byte[]> candidates, long cutoffUnixMs)
    {
        using var batch = new WriteBatch();
        _gate.EnterWriteLock();
        try
        {
            var db = Db();
            foreach (var key in candidates)
            {
                var value = db.Get(key);
                if (value is not null && IsExpired(key, value, cutoffUnixMs))
                {
                    batch.Delete(key);
                }
            }

            var count = batch.Count();
            if (count > 0)
            {
                db.Write(batch, _sweepWriteOptions);
            }

            return count;
        }
        catch (RocksDbException ex)
        {
            EnterFault(ex.Message);
            throw Unavailable("deleting expired carts", ex);
        }
        finally
        {
            _gate.ExitWriteLock();
        }
    }

    private static bool IsExpired(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long cutoffUnixMs) =>
        key.Length == KeySize
        && RecordEnvelope.Check(value, out var updatedAtUnixMs, out _) is null
        && updatedAtUnixMs < cutoffUnixMs;
}

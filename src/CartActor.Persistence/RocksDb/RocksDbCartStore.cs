using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.ObjectPool;
using RocksDbSharp;
using NativeDb = RocksDbSharp.RocksDb;

namespace CartActor.Persistence.RocksDb;

/// <summary>
/// The embedded, node-local cart store: one RocksDB database in a directory this process holds locked. Key:
/// the cart id as 8 big-endian bytes; value: a <see cref="RecordEnvelope"/> around the <see cref="CartRecord"/>.
/// A shard pass is one <see cref="WriteBatch"/> and one write-ahead-log append, synced or not by
/// <see cref="DurabilityMode"/>. Unsynced, the shard writes on its own thread; synced, the
/// <see cref="RocksDbCommitter"/> writes every shard's ready batch under one sync on its own thread.
/// <para>
/// Threading: Load, WriteAsync and Delete come from the shards, many at once; they share the gate (a reader-writer lock).
/// The retention sweep reads without blocking them and takes the gate alone only to re-check and delete a
/// small batch, so a cart written meanwhile is never deleted. Dispose takes it alone to close the database.
/// </para>
/// <para>
/// Partials by concern: this file opens, closes and holds the options; Reads, Writes and Maintenance (the
/// retention sweep) share its fields.
/// </para>
/// </summary>
public sealed partial class RocksDbCartStore : ICartStore
{
    private const int KeySize = sizeof(ulong);

    // A cache sized for the hot working set of a node's carts (records are a few hundred bytes to a few KB).
    private const ulong BlockCacheBytes = 64UL * 1024 * 1024;

    private const int MaxPooledScratch = 16;

    private static readonly IReadOnlyCollection<ulong> NoConflicts = [];

    // Null only between a failed reopen and the next recovery attempt (see the Recovery partial); replaced only
    // under the exclusive gate, read under the shared one.
    private NativeDb? _db;
    private readonly WriteOptions _writeOptions;
    private readonly WriteOptions _sweepWriteOptions;
    private readonly ReadOptions _sweepReadOptions;
    private readonly ObjectPool<WriteScratch> _scratchPool;
    private readonly ReaderWriterLockSlim _gate = new(LockRecursionPolicy.NoRecursion);
    private bool _disposed;

    // Fsync mode only: the thread that writes and syncs; null in os mode (the shards write inline).
    private readonly RocksDbCommitter? _committer;

    // Kept referenced for the life of the database: the native objects behind them back its options.
    private readonly DbOptions _dbOptions;
    private readonly BlockBasedTableOptions _tableOptions;
    private readonly Cache _blockCache;
    private readonly BloomFilterPolicy _bloomFilter;

    private RocksDbCartStore(string path, DurabilityMode mode, TimeSpan groupCommitDelay, NativeDb db, DbOptions dbOptions, BlockBasedTableOptions tableOptions, Cache blockCache, BloomFilterPolicy bloomFilter)
    {
        Path = path;
        Mode = mode;
        _db = db;
        _dbOptions = dbOptions;
        _tableOptions = tableOptions;
        _blockCache = blockCache;
        _bloomFilter = bloomFilter;
        _writeOptions = new WriteOptions().SetSync(mode == DurabilityMode.Fsync);

        // A sweep's delete lost to a power cut is redone by the next sweep: it need not wait for a sync, and
        // the shorter it holds the gate, the less the writers wait.
        _sweepWriteOptions = new WriteOptions().SetSync(false);

        // A full scan must not push the hot carts out of the block cache.
        _sweepReadOptions = new ReadOptions().SetFillCache(false);
        _scratchPool = new DefaultObjectPoolProvider { MaximumRetained = MaxPooledScratch }.Create(new WriteScratch.Policy());
        if (mode == DurabilityMode.Fsync)
        {
            _committer = new RocksDbCommitter(this, groupCommitDelay);
        }
    }

    public string Name => "rocksdb";

    public bool IsShared => false;

    /// <summary>The database directory, as a full path.</summary>
    public string Path { get; }

    public DurabilityMode Mode { get; }

    /// <summary>Synced writes since the store opened (fsync mode; each carried one or more shards' batches); 0 in os mode.</summary>
    internal long SyncedWrites => _committer?.Groups ?? 0;

    /// <summary>Shard batches those synced writes carried.</summary>
    internal long SyncedBatches => _committer?.Batches ?? 0;

    /// <summary>Times the committer waited for batches its last sync predicted (fsync mode; 0 otherwise).</summary>
    internal long SyncDwells => _committer?.Dwells ?? 0;

    /// <summary>Tests only (fsync mode, before the first write): how long a sync's batch count predicts the next group.</summary>
    internal void SetGroupCommitExpectationLifetime(TimeSpan lifetime) => _committer!.ExpectationLifetime = lifetime;

    /// <summary>Tests only: runs on the committer's thread just before a group's write, with the group's batch count; may block or throw.</summary>
    internal Action<int>? BeforeGroupWrite { get; set; }

    /// <summary>
    /// Opens (creating when missing) the store in <see cref="RocksDbStoreOptions.Path"/>. A directory another
    /// process (or another open store in this one) holds fails at once, naming the directory.
    /// </summary>
    /// <exception cref="CartStoreException">The directory cannot be created, is locked, or holds an unreadable database.</exception>
    public static RocksDbCartStore Open(RocksDbStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            throw new ArgumentException("the RocksDB store needs a directory (Path)", nameof(options));
        }

        if (!Enum.IsDefined(options.Mode))
        {
            throw new ArgumentException($"unknown durability mode {options.Mode}", nameof(options));
        }

        if (options.GroupCommitDelay < TimeSpan.Zero || options.GroupCommitDelay > RocksDbStoreOptions.MaxGroupCommitDelay)
        {
            throw new ArgumentException($"GroupCommitDelay must be 0..{RocksDbStoreOptions.MaxGroupCommitDelay.TotalMicroseconds} µs (was {options.GroupCommitDelay.TotalMicroseconds} µs)", nameof(options));
        }

        var path = System.IO.Path.GetFullPath(options.Path);
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CartStoreException(CartStoreError.Unavailable, $"cannot create the RocksDB store directory '{path}': {ex.Message}", ex);
        }

        var blockCache = Cache.CreateLru(BlockCacheBytes);
        // 10 bits per key: about 1 % false positives, so a lookup of an absent cart rarely touches a data block.
        var bloomFilter = BloomFilterPolicy.Create(10, false); // false: a full (not block-based) filter
        var tableOptions = new BlockBasedTableOptions()
            .SetBlockCache(blockCache)
            .SetFilterPolicy(bloomFilter)
            .SetWholeKeyFiltering(true);
        var dbOptions = new DbOptions()
            .SetCreateIfMissing(true)
            .SetBlockBasedTableFactory(tableOptions)
            .SetCompression(Compression.Lz4)
            .IncreaseParallelism(Math.Max(2, Environment.ProcessorCount))
            .SetKeepLogFileNum(4);

        NativeDb db;
        try
        {
            db = OpenNative(dbOptions, path);
        }
        catch (RocksDbException ex) when (ex.Message.Contains("LOCK", StringComparison.Ordinal))
        {
            throw new CartStoreException(
                CartStoreError.Unavailable,
                $"the RocksDB store '{path}' is in use by another process (or is already open in this one); stop it or choose another data directory ({ex.Message})",
                ex);
        }
        catch (RocksDbException ex)
        {
            throw new CartStoreException(CartStoreError.Unavailable, $"cannot open the RocksDB store '{path}': {ex.Message}", ex);
        }

        return new RocksDbCartStore(path, options.Mode, options.GroupCommitDelay, db, dbOptions, tableOptions, blockCache, bloomFilter);
    }

    public void Dispose()
    {
        _closing.Cancel();

        // Before the database closes: the committer writes what is queued, then stops; a later write fails as closed.
        _committer?.Dispose();
        _gate.EnterWriteLock();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _db?.Dispose();
            _db = null;
        }
        finally
        {
            _gate.ExitWriteLock();
        }

        // _closing is not disposed: the recovery loop may still read its token after this (a cancelled source
        // holds nothing native).
        (_scratchPool as IDisposable)?.Dispose();

        // The options wrappers must outlive the database (their finalizers free native objects it was opened with).
        GC.KeepAlive(_dbOptions);
        GC.KeepAlive(_tableOptions);
        GC.KeepAlive(_blockCache);
        GC.KeepAlive(_bloomFilter);
    }

    private static NativeDb OpenNative(DbOptions dbOptions, string path) => NativeDb.Open(dbOptions, path);

    /// <summary>The open database, under the gate; throws when the store is closed or between a failed reopen and the next.</summary>
    private NativeDb Db()
    {
        if (_disposed)
        {
            ThrowClosed();
        }

        return _db ?? ThrowReopening();
    }

    [DoesNotReturn]
    [StackTraceHidden]
    private void ThrowClosed() => throw Closed();

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal CartStoreException Closed() => new(CartStoreError.Unavailable, $"the RocksDB store '{Path}' is closed");

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal CartStoreException QueueFull(int capacity) =>
        new(CartStoreError.Unavailable, $"the RocksDB store '{Path}' has {capacity} batches waiting for a sync already (the disk is slower than the writes); nothing was stored, retry");

    [DoesNotReturn]
    [StackTraceHidden]
    private NativeDb ThrowReopening() =>
        throw new CartStoreException(CartStoreError.Unavailable, $"the RocksDB store '{Path}' is being reopened after a failed write ({_fault}); retry");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private CartStoreException Unavailable(string operation, Exception inner) =>
        new(CartStoreError.Unavailable, $"{operation} in the RocksDB store '{Path}' failed: {inner.Message}", inner);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private CartStoreException Corrupt(ulong cartId, string problem, Exception? inner) =>
        new(CartStoreError.Corrupt, $"cart {cartId}: its record in the RocksDB store '{Path}' is corrupt: {problem}", inner);
}

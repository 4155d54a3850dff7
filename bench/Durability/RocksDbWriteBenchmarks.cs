using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using RocksDbSharp;

namespace CartActor.Bench.Durability;

/// <summary>
/// The floor under durable Apply: plain RocksDB, one small value per write, nothing of the cart runtime or
/// the store's envelope. <see cref="SyncedPut"/> waits for the write-ahead log to reach the disk (what the
/// fsync mode pays per shard pass); <see cref="UnsyncedPut"/> leaves it in the page cache (the os mode).
/// Durable Apply figures are read against these, measured in the same run on the same disk.
/// Never rename these methods once their figures are recorded.
/// </summary>
[MemoryDiagnoser]
public class RocksDbWriteBenchmarks
{
    // About the size of an encoded two-line cart record with a few idempotency keys.
    private const int ValueBytes = 300;
    private const int DistinctKeys = 4_096;

    private readonly byte[] _key = new byte[sizeof(ulong)];
    private readonly byte[] _value = new byte[ValueBytes];
    private string _directory = null!;
    private RocksDb _db = null!;
    private WriteOptions _synced = null!;
    private WriteOptions _unsynced = null!;
    private ulong _next;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "cartactor-bench-rocksdb-" + Guid.NewGuid().ToString("N"));
        _db = RocksDb.Open(new DbOptions().SetCreateIfMissing(true), _directory);
        _synced = new WriteOptions().SetSync(true);
        _unsynced = new WriteOptions().SetSync(false);
        new Random(42).NextBytes(_value);

        // Prove both writes land before timing them.
        SyncedPut();
        VerifyLast();
        UnsyncedPut();
        VerifyLast();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _db.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark]
    public void SyncedPut() => Put(_synced);

    [Benchmark]
    public void UnsyncedPut() => Put(_unsynced);

    private void Put(WriteOptions options)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_key, 1 + _next++ % DistinctKeys);
        _db.Put(_key, _value, null, options);
    }

    private void VerifyLast()
    {
        var stored = _db.Get(_key);
        if (stored is null || !stored.AsSpan().SequenceEqual(_value))
        {
            throw new InvalidOperationException($"the write to {_directory} did not read back");
        }
    }
}

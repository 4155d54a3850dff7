using System.Buffers.Binary;
using System.IO.Hashing;
using CartActor.Cart.Messages;
using CartActor.Persistence.RocksDb;
using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using Google.Protobuf;

namespace CartActor.Persistence.Tests;

/// <summary>The embedded store against real RocksDB files in a temporary directory.</summary>
public sealed class RocksDbCartStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private RocksDbCartStore Open(DurabilityMode mode = DurabilityMode.Fsync) =>
        RocksDbCartStore.Open(new RocksDbStoreOptions { Path = _directory.Path, Mode = mode });

    [Fact]
    public void TheStore_IsNodeLocal_AndNamedRocksDb()
    {
        using var store = Open();

        Assert.Equal("rocksdb", store.Name);
        Assert.False(store.IsShared);
        Assert.Equal(_directory.Path, store.Path);
    }

    [Fact]
    public async Task AWrittenRecord_LoadsBackWhole_WithItsIdempotencyEntries()
    {
        using var store = Open();
        var record = Records.Cart(7, version: 3, items: 2, idempotencyKeys: 3);

        var conflicts = await store.WriteAsync([Records.Write(record)]).WithTimeout();

        Assert.Empty(conflicts);
        var loaded = store.Load(7);
        Assert.Equal(record, loaded);
        Assert.Equal(3, loaded!.Idempotency.Count);
        Assert.Equal(record.Idempotency[2].Result, loaded.Idempotency[2].Result);
    }

    [Fact]
    public void ACartNeverWritten_LoadsAsNull()
    {
        using var store = Open();

        Assert.Null(store.Load(404));
    }

    [Fact]
    public async Task ALaterWrite_ReplacesTheRecord()
    {
        using var store = Open();
        await store.WriteAsync([Records.Write(Records.Cart(7, version: 1, items: 1))]).WithTimeout();

        await store.WriteAsync([Records.Write(Records.Cart(7, version: 2, items: 3))]).WithTimeout();

        var loaded = store.Load(7);
        Assert.Equal(2UL, loaded!.State.Version);
        Assert.Equal(3, loaded.State.Items.Count);
    }

    [Theory]
    [InlineData(DurabilityMode.Os)]
    [InlineData(DurabilityMode.Fsync)]
    public async Task ABatchOfManyCarts_IsWrittenInOneCall_AndEveryCartLoads(DurabilityMode mode)
    {
        using var store = Open(mode);
        var records = Enumerable.Range(1, 1_000).Select(i => Records.Cart((ulong)i, version: (ulong)i, items: 1 + i % 5)).ToList();

        var write = store.WriteAsync(records.Select(Records.Write).ToList());

        // Os: the shard's inline path, a completed answer needs no continuation. Fsync: the committer's thread
        // writes and syncs it, so the answer comes later.
        if (mode == DurabilityMode.Os)
        {
            Assert.True(write.IsCompletedSuccessfully);
        }

        Assert.Empty(await write.WithTimeout());
        foreach (var record in records)
        {
            Assert.Equal(record, store.Load(record.State.Id));
        }
    }

    [Fact]
    public async Task AnEmptyBatch_WritesNothing()
    {
        using var store = Open();

        Assert.Empty(await store.WriteAsync([]).WithTimeout());
        Assert.Empty(RawKeysAfterClosing(store));
    }

    [Fact]
    public async Task ShardsWritingAtOnce_AllLand()
    {
        using var store = Open(DurabilityMode.Fsync);
        var writers = Enumerable.Range(0, 4).Select(shard => Task.Run(async () =>
        {
            for (var pass = 0; pass < 50; pass++)
            {
                var batch = Enumerable.Range(0, 3)
                    .Select(i => Records.Write(Records.Cart((ulong)(1 + shard * 1_000 + pass * 3 + i), version: (ulong)pass + 1)))
                    .ToList();
                await store.WriteAsync(batch).WithTimeout();
            }
        }));

        await Task.WhenAll(writers).WithTimeout();

        for (var shard = 0; shard < 4; shard++)
        {
            for (var i = 0; i < 150; i++)
            {
                Assert.NotNull(store.Load((ulong)(1 + shard * 1_000 + i)));
            }
        }
    }

    [Theory]
    [InlineData(DurabilityMode.Fsync)]
    [InlineData(DurabilityMode.Os)]
    public async Task AfterDisposeAndReopen_EveryRecordIsThere(DurabilityMode mode)
    {
        var records = Enumerable.Range(1, 300).Select(i => Records.Cart((ulong)i * 7_919, version: (ulong)i, idempotencyKeys: i % 4)).ToList();
        using (var store = Open(mode))
        {
            foreach (var chunk in records.Chunk(50))
            {
                await store.WriteAsync(chunk.Select(Records.Write).ToList()).WithTimeout();
            }

            store.Delete(records[0].State.Id);
        }

        using var reopened = Open(mode);

        Assert.Null(reopened.Load(records[0].State.Id));
        foreach (var record in records.Skip(1))
        {
            Assert.Equal(record, reopened.Load(record.State.Id));
        }
    }

    [Fact]
    public async Task TheValue_IsTheDocumentedEnvelope_KeyedByTheBigEndianId()
    {
        var record = Records.Cart(0x0102030405060708, updatedAtUnixMs: 1_712_345_678_901);
        using (var store = Open())
        {
            await store.WriteAsync([Records.Write(record)]).WithTimeout();
        }

        var key = Assert.Single(RawRocksDb.Keys(_directory.Path));
        var value = RawRocksDb.Get(_directory.Path, 0x0102030405060708)!;

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, key);
        Assert.Equal(1, value[0]);
        Assert.Equal(1_712_345_678_901, BinaryPrimitives.ReadInt64LittleEndian(value.AsSpan(1)));
        Assert.Equal(record, CartRecord.Parser.ParseFrom(value.AsSpan(9, value.Length - 13)));
        Assert.Equal(Crc32.HashToUInt32(value.AsSpan(0, value.Length - 4)), BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(value.Length - 4)));
    }

    public static TheoryData<string> Corruptions => ["garbage", "empty", "flipped bit", "unknown format", "sound frame around a bad record", "truncated"];

    [Theory]
    [MemberData(nameof(Corruptions))]
    public async Task ACorruptValue_FailsThatCartOnly_NamingIt(string corruption)
    {
        const ulong Damaged = 31;
        using (var store = Open())
        {
            await store.WriteAsync([Records.Write(Records.Cart(30)), Records.Write(Records.Cart(Damaged)), Records.Write(Records.Cart(32))]).WithTimeout();
        }

        var sound = RawRocksDb.Get(_directory.Path, Damaged)!;
        RawRocksDb.Put(_directory.Path, Damaged, Corrupt(sound, corruption));

        using var reopened = Open();
        var error = Assert.Throws<CartStoreException>(() => reopened.Load(Damaged));

        Assert.Equal(CartStoreError.Corrupt, error.Error);
        Assert.Contains($"cart {Damaged}", error.Message, StringComparison.Ordinal);
        Assert.Equal(Records.Cart(30), reopened.Load(30));
        Assert.Equal(Records.Cart(32), reopened.Load(32));

        // Writing the cart again repairs it.
        await reopened.WriteAsync([Records.Write(Records.Cart(Damaged, version: 5))]).WithTimeout();
        Assert.Equal(5UL, reopened.Load(Damaged)!.State.Version);
    }

    private static byte[] Corrupt(byte[] sound, string corruption)
    {
        switch (corruption)
        {
            case "garbage":
                return "this is not a cart record at all"u8.ToArray();
            case "empty":
                return [];
            case "flipped bit":
                var flipped = (byte[])sound.Clone();
                flipped[sound.Length / 2] ^= 0x10;
                return flipped;
            case "unknown format":
                var future = (byte[])sound.Clone();
                future[0] = 9;
                return future;
            case "sound frame around a bad record":
                // Length, format and checksum are right; the protobuf inside is not (wire type 7 does not exist).
                var frame = new byte[9 + 6 + 4];
                frame[0] = 1;
                frame.AsSpan(9, 6).Fill(0xFF);
                BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(frame.Length - 4), Crc32.HashToUInt32(frame.AsSpan(0, frame.Length - 4)));
                return frame;
            case "truncated":
                return sound[..(sound.Length - 7)];
            default:
                throw new ArgumentOutOfRangeException(nameof(corruption), corruption, null);
        }
    }

    [Fact]
    public async Task Delete_RemovesThatRecordOnly()
    {
        using var store = Open();
        await store.WriteAsync([Records.Write(Records.Cart(1)), Records.Write(Records.Cart(2))]).WithTimeout();

        store.Delete(1);
        store.Delete(999); // absent: nothing to do, no error

        Assert.Null(store.Load(1));
        Assert.Equal(Records.Cart(2), store.Load(2));
    }

    [Fact]
    public async Task TheRetentionSweep_DeletesRecordsOlderThanTheCutoff_AndNothingElse()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_750_000_000_000);
        var cutoff = now - TimeSpan.FromDays(30);
        using var store = Open();

        // Interleaved ids and more of them than one scan chunk, so the sweep resumes mid-range several times.
        var old = new List<ulong>();
        var fresh = new List<ulong>();
        var batch = new List<CartWrite>();
        for (ulong id = 1; id <= 2_600; id++)
        {
            var isOld = id % 3 != 0;
            var updatedAt = isOld ? cutoff - TimeSpan.FromMilliseconds(id) : cutoff + TimeSpan.FromMilliseconds(id % 2);
            (isOld ? old : fresh).Add(id);
            batch.Add(Records.Write(Records.Cart(id, updatedAtUnixMs: updatedAt.ToUnixTimeMilliseconds())));
        }

        await store.WriteAsync(batch).WithTimeout();

        var deleted = await store.DeleteOlderThanAsync(cutoff, CancellationToken.None).WithTimeout();

        Assert.Equal(old.Count, deleted);
        Assert.All(old, id => Assert.Null(store.Load(id)));
        Assert.All(fresh, id => Assert.NotNull(store.Load(id)));
        Assert.Equal(0, await store.DeleteOlderThanAsync(cutoff, CancellationToken.None).WithTimeout());
    }

    [Fact]
    public async Task TheRetentionSweep_LeavesCorruptRecordsForAnOperator()
    {
        using (var store = Open())
        {
            await store.WriteAsync([Records.Write(Records.Cart(1, updatedAtUnixMs: 1)), Records.Write(Records.Cart(2, updatedAtUnixMs: 1))]).WithTimeout();
        }

        RawRocksDb.Put(_directory.Path, 2, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        using var reopened = Open();

        Assert.Equal(1, await reopened.DeleteOlderThanAsync(DateTimeOffset.UtcNow, CancellationToken.None).WithTimeout());
        Assert.Equal(CartStoreError.Corrupt, Assert.Throws<CartStoreException>(() => reopened.Load(2)).Error);
    }

    [Fact]
    public async Task ACartRewrittenWhileTheSweepRuns_IsNeverDeleted()
    {
        const int Carts = 20_000;
        const int Rewriters = 2;
        using var store = Open(DurabilityMode.Os);
        var cutoff = DateTimeOffset.FromUnixTimeMilliseconds(1_000_000);
        foreach (var chunk in Enumerable.Range(1, Carts).Chunk(1_000))
        {
            await store.WriteAsync(chunk.Select(i => Records.Write(Records.Cart((ulong)i, version: 1, updatedAtUnixMs: 5))).ToList()).WithTimeout();
        }

        // Each rewriter refreshes its share of the carts in random order, so rewrites land all over the key
        // range while the sweep walks it; the sweep starts once the rewriters are under way.
        var order = Enumerable.Range(1, Carts).Select(i => (ulong)i).ToArray();
        Random.Shared.Shuffle(order);
        using var underWay = new CountdownEvent(Rewriters);
        var rewrites = order.Chunk(Carts / Rewriters).Select(share => Task.Run(async () =>
        {
            for (var i = 0; i < share.Length; i++)
            {
                if (i == 100)
                {
                    underWay.Signal();
                }

                await store.WriteAsync([Records.Write(Records.Cart(share[i], version: 2, updatedAtUnixMs: 2_000_000))]).WithTimeout();

                // The writes complete synchronously: yield now and then, or on two cores the sweep never gets a thread.
                if (i % 16 == 0)
                {
                    await Task.Yield();
                }
            }
        })).ToList();
        Assert.True(underWay.Wait(TestTimeouts.Default));

        var sweep = store.DeleteOlderThanAsync(cutoff, CancellationToken.None);
        await Task.WhenAll([.. rewrites, sweep]).WithTimeout();

        // Each cart was deleted before its rewrite or kept; none may be missing once the rewrites are done.
        Assert.All(order, id => Assert.Equal(2UL, store.Load(id)!.State.Version));
        Assert.InRange(await sweep, 0, Carts);
    }

    [Fact]
    public async Task ACancelledSweep_Stops()
    {
        using var store = Open();
        await store.WriteAsync([Records.Write(Records.Cart(1, updatedAtUnixMs: 1))]).WithTimeout();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.DeleteOlderThanAsync(DateTimeOffset.UtcNow, cancelled.Token).WithTimeout());
        Assert.NotNull(store.Load(1));
    }

    [Fact]
    public void Open_CreatesAMissingDirectory()
    {
        var nested = Path.Combine(_directory.Path, "a", "b", "data");

        using var store = RocksDbCartStore.Open(new RocksDbStoreOptions { Path = nested });

        Assert.True(Directory.Exists(nested));
        Assert.Equal(nested, store.Path);
    }

    [Fact]
    public void OpeningADirectoryAlreadyInUse_FailsNamingIt()
    {
        using var first = Open();

        var error = Assert.Throws<CartStoreException>(() => Open());

        Assert.Equal(CartStoreError.Unavailable, error.Error);
        Assert.Contains($"'{_directory.Path}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("in use", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AClosedStore_RefusesWithUnavailable()
    {
        var store = Open();
        store.Dispose();
        store.Dispose(); // twice is harmless

        Assert.Equal(CartStoreError.Unavailable, Assert.Throws<CartStoreException>(() => store.Load(1)).Error);
        Assert.Equal(CartStoreError.Unavailable, Assert.Throws<CartStoreException>(() => store.Delete(1)).Error);
        var write = await Assert.ThrowsAsync<CartStoreException>(() => store.WriteAsync([Records.Write(Records.Cart(1))]).WithTimeout());
        Assert.Equal(CartStoreError.Unavailable, write.Error);
    }

    private List<byte[]> RawKeysAfterClosing(RocksDbCartStore store)
    {
        store.Dispose();
        return RawRocksDb.Keys(_directory.Path);
    }
}

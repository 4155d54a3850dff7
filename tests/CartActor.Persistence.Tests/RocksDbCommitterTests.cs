using CartActor.Persistence.RocksDb;
using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;

namespace CartActor.Persistence.Tests;

/// <summary>
/// The fsync mode's committer: batches from many shards that are ready together share one write and one sync, on
/// a thread of its own; nothing is answered before its sync; a failed write fails exactly the batches it carried;
/// a full queue refuses instead of buffering.
/// </summary>
public sealed class RocksDbCommitterTests : IDisposable
{
    private const int Shards = 32;

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ManyShardsWritingWhileASyncIsUnderWay_AllLand_UnderOneMoreSync()
    {
        using var store = OpenFsync();
        using var held = new HeldGroup(store);
        var first = store.WriteAsync([Records.Write(Records.Cart(1))]).AsTask();
        held.WaitUntilEntered();

        // Every shard writes its batch (three carts each) from its own thread while the first sync is under way.
        // (StartNew, not Task.Run: the submitting task must not wait for the write it returns.)
        var writes = await Task.WhenAll(Enumerable.Range(0, Shards).Select(shard => Task.Factory.StartNew(
            () =>
            {
                var batch = Enumerable.Range(0, 3).Select(i => Records.Write(Records.Cart(CartOf(shard, i), version: 2))).ToList();
                return store.WriteAsync(batch).AsTask();
            },
            CancellationToken.None,
            TaskCreationOptions.DenyChildAttach,
            TaskScheduler.Default))).WithTimeout();
        Assert.All(writes, write => Assert.False(write.IsCompleted, "a batch was answered before any sync covered it"));
        var answeredOn = writes[0].ContinueWith(_ => Thread.CurrentThread.Name, TaskContinuationOptions.ExecuteSynchronously);

        held.Release();
        await first.WithTimeout();
        await Task.WhenAll(writes).WithTimeout();

        Assert.Equal(2, store.SyncedWrites);
        Assert.Equal(1 + Shards, store.SyncedBatches);
        Assert.NotEqual("rocksdb-committer", await answeredOn.WithTimeout());
        Assert.NotNull(store.Load(1));
        for (var shard = 0; shard < Shards; shard++)
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(2UL, store.Load(CartOf(shard, i))?.State.Version);
            }
        }
    }

    [Fact]
    public async Task AFailedWrite_FailsExactlyTheBatchesItCarried_AndTheStoreHealsByItself()
    {
        using var store = OpenFsync();
        using var held = new HeldGroup(store, failSecondGroup: true);
        var before = store.WriteAsync([Records.Write(Records.Cart(1))]).AsTask();
        held.WaitUntilEntered();
        var failing = Enumerable.Range(0, 4).Select(shard => store.WriteAsync([Records.Write(Records.Cart(CartOf(shard, 0)))]).AsTask()).ToList();

        held.Release();
        await before.WithTimeout();
        foreach (var write in failing)
        {
            var error = await Assert.ThrowsAsync<CartStoreException>(() => write).WithTimeout();
            Assert.Equal(CartStoreError.Unavailable, error.Error);
            Assert.Contains("injected write failure", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(1, store.WriteFaults);
        Assert.Contains("injected write failure", store.LastWriteFault, StringComparison.Ordinal);
        await WaitUntilAvailableAsync(store);
        await store.WriteAsync([Records.Write(Records.Cart(2))]).WithTimeout();

        Assert.NotNull(store.Load(1));
        Assert.NotNull(store.Load(2));
        Assert.All(Enumerable.Range(0, 4), shard => Assert.Null(store.Load(CartOf(shard, 0))));
        Assert.Equal(1, store.WriteFaults);
    }

    [Fact]
    public async Task AFullQueue_RefusesAtOnceAsUnavailable_AndTheQueuedBatchesStillLand()
    {
        using var store = OpenFsync();
        using var held = new HeldGroup(store);
        var first = store.WriteAsync([Records.Write(Records.Cart(1))]).AsTask();
        held.WaitUntilEntered();
        var queued = Enumerable.Range(0, RocksDbCommitter.Capacity)
            .Select(i => store.WriteAsync([Records.Write(Records.Cart(10_000UL + (ulong)i))]).AsTask())
            .ToList();

        var refused = store.WriteAsync([Records.Write(Records.Cart(99))]);

        Assert.True(refused.IsFaulted, "a write beyond the queue's capacity was not refused at once");
        var error = await Assert.ThrowsAsync<CartStoreException>(() => refused.AsTask()).WithTimeout();
        Assert.Equal(CartStoreError.Unavailable, error.Error);
        Assert.Contains("waiting for a sync", error.Message, StringComparison.Ordinal);
        held.Release();
        await first.WithTimeout();
        await Task.WhenAll(queued).WithTimeout();
        Assert.Null(store.Load(99));
        Assert.NotNull(store.Load(10_000UL + RocksDbCommitter.Capacity - 1));
        Assert.True(store.IsAvailable);
    }

    [Fact]
    public async Task ALoneWriter_IsSyncedWithoutWaitingForOthers()
    {
        // The longest dwell, and an expectation that never lapses: only "a lone writer never waits" keeps it at zero.
        using var store = OpenFsync(RocksDbStoreOptions.MaxGroupCommitDelay);
        store.SetGroupCommitExpectationLifetime(TimeSpan.FromMinutes(10));

        for (var i = 0; i < 20; i++)
        {
            await store.WriteAsync([Records.Write(Records.Cart(1, version: (ulong)i + 1))]).WithTimeout();
        }

        Assert.Equal(20, store.SyncedWrites);
        Assert.Equal(0, store.SyncDwells);
        Assert.Equal(20UL, store.Load(1)?.State.Version);
    }

    [Fact]
    public async Task AfterASyncOfSeveralBatches_FewerReadyWaitOnceForTheRest_AndALoneWriterThenDoesNot()
    {
        using var store = OpenFsync(RocksDbStoreOptions.MaxGroupCommitDelay);
        store.SetGroupCommitExpectationLifetime(TimeSpan.FromMinutes(10));
        using var first = new ManualResetEventSlim();
        using var second = new ManualResetEventSlim();
        using var entered = new SemaphoreSlim(0);
        var groups = new List<int>();
        store.BeforeGroupWrite = count =>
        {
            lock (groups)
            {
                groups.Add(count);
            }

            entered.Release();
            var gate = groups.Count switch { 1 => first, 2 => second, _ => null };
            gate?.Wait(TestTimeouts.Default);
        };

        // Group 1 (one batch) is held while three shards queue: group 2 carries the three.
        var lone = store.WriteAsync([Records.Write(Records.Cart(1))]).AsTask();
        Assert.True(await entered.WaitAsync(TestTimeouts.Default), "the committer never began its first write");
        var three = Enumerable.Range(0, 3).Select(shard => store.WriteAsync([Records.Write(Records.Cart(CartOf(shard, 0)))]).AsTask()).ToList();
        first.Set();
        Assert.True(await entered.WaitAsync(TestTimeouts.Default), "the committer never began its second write");

        // One batch is ready when the sync of three ends: it waits for the two the last sync predicts, which never come.
        var late = store.WriteAsync([Records.Write(Records.Cart(2))]).AsTask();
        second.Set();
        await Task.WhenAll([lone, late, .. three]).WithTimeout();
        Assert.Equal(1, store.SyncDwells);

        // The last sync carried one batch: the next lone writer goes at once.
        await store.WriteAsync([Records.Write(Records.Cart(3))]).WithTimeout();
        store.BeforeGroupWrite = null;

        Assert.Equal(1, store.SyncDwells);
        Assert.Equal(new[] { 1, 3, 1, 1 }, groups);
        Assert.All(new[] { 1UL, 2UL, 3UL, CartOf(0, 0), CartOf(1, 0), CartOf(2, 0) }, id => Assert.NotNull(store.Load(id)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1001)]
    public void AGroupCommitDelayOutOfRange_IsRefusedAtOpen_NamingTheSetting(int microseconds)
    {
        var error = Assert.Throws<ArgumentException>(() => OpenFsync(TimeSpan.FromMicroseconds(microseconds)));
        Assert.Contains("GroupCommitDelay", error.Message, StringComparison.Ordinal);
    }

    private RocksDbCartStore OpenFsync(TimeSpan? groupCommitDelay = null) =>
        RocksDbCartStore.Open(new RocksDbStoreOptions
        {
            Path = _directory.Path,
            Mode = DurabilityMode.Fsync,
            GroupCommitDelay = groupCommitDelay ?? RocksDbStoreOptions.DefaultGroupCommitDelay,
        });

    private static ulong CartOf(int shard, int index) => 1_000UL + ((ulong)shard * 10) + (ulong)index;

    private static async Task WaitUntilAvailableAsync(RocksDbCartStore store)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (!store.IsAvailable)
        {
            Assert.True(DateTime.UtcNow < deadline, "the store did not heal after the injected failure");
            await Task.Delay(20);
        }
    }

    /// <summary>Holds the committer's first group just before its write until released; optionally fails the second.</summary>
    private sealed class HeldGroup : IDisposable
    {
        private readonly ManualResetEventSlim _entered = new();
        private readonly ManualResetEventSlim _released = new();
        private readonly RocksDbCartStore _store;
        private int _groups;

        public HeldGroup(RocksDbCartStore store, bool failSecondGroup = false)
        {
            _store = store;
            store.BeforeGroupWrite = _ =>
            {
                switch (Interlocked.Increment(ref _groups))
                {
                    case 1:
                        _entered.Set();
                        _released.Wait(TestTimeouts.Default);
                        break;
                    case 2 when failSecondGroup:
                        throw new IOException("injected write failure");
                }
            };
        }

        public void WaitUntilEntered() =>
            Assert.True(_entered.Wait(TestTimeouts.Default), "the committer never began its first write");

        public void Release() => _released.Set();

        public void Dispose()
        {
            _released.Set();
            _store.BeforeGroupWrite = null;
        }
    }
}

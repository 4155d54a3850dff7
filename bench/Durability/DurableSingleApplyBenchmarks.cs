using BenchmarkDotNet.Attributes;
using CartActor.Bench.Core;
using CartActor.Bench.Node;
using CartActor.Cart.Messages;
using CartActor.Persistence;
using CartActor.Persistence.RocksDb;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Bench.Durability;

/// <summary>
/// The durable twin of <see cref="CartRuntimeBenchmarks.ApplyAddItem"/>: one Apply at a time through
/// <see cref="CartRuntime"/> with the embedded store, per durability mode. The shard is idle and the thread
/// pool has nothing waiting. Os: the pass applies, writes and acknowledges on the caller's thread (no group
/// commit to wait for, no hop) and the Apply completes synchronously: what is measured is the runtime plus one
/// RocksDB write, and its allocation is exact. Fsync: the pass hands its batch to the store's committer thread,
/// which writes and syncs it, and the Apply completes on the thread pool after that sync (the caller blocks on
/// it): the runtime, one synced write and the two hops. The batch is AddItem + set the quantity
/// back to 1: valid forever, the same record size every time. Gated by bench/gates.json (allocation exact,
/// time loose: the fsync figure is the disk's sync latency). Never rename the method or the parameter values.
/// </summary>
[MemoryDiagnoser]
public class DurableSingleApplyBenchmarks
{
    private const ulong CartId = 5_000_001;

    private CartRuntime _runtime = null!;
    private RocksDbCartStore _store = null!;
    private Any[] _batch = null!;
    private string? _directory;
    private ulong _expectedVersion;

    /// <summary>rocksdb-os: the WAL handed to the OS; rocksdb-fsync: the WAL synced before the answer.</summary>
    [Params("rocksdb-os", "rocksdb-fsync")]
    public string Store { get; set; } = "rocksdb-os";

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "cartactor-bench-single-" + Guid.NewGuid().ToString("N"));
        _store = RocksDbCartStore.Open(new RocksDbStoreOptions
        {
            Path = _directory,
            Mode = Store == "rocksdb-fsync" ? DurabilityMode.Fsync : DurabilityMode.Os,
        });
        _runtime = new CartRuntime(new CartRuntimeOptions { IdleTtl = TimeSpan.FromDays(1), SweepInterval = TimeSpan.FromDays(1) }, store: _store);
        var item = BenchCarts.Item(1);
        _batch = [Any.Pack(new AddItem(item) { Quantity = 1 }), Any.Pack(new ChangeQuantity { ItemId = 1, Quantity = 1 })];
        for (var i = 0; i < 3; i++)
        {
            var state = BenchCarts.ApplyChecked(_runtime, CartId, _batch);
            if (state.Items.Count != 1 || state.Items[0].Quantity != 1)
            {
                throw new InvalidOperationException($"durable single Apply set-up: cart {CartId} is not one line at quantity 1: {state}");
            }
        }

        // Os: the measured call completes synchronously (written on this thread) once the pool has nothing
        // waiting; work left over from an earlier benchmark in this process may delay that for a moment. Fsync: it
        // never does (the committer's thread syncs it).
        var synchronous = Store == "rocksdb-fsync";
        for (var attempt = 0; attempt < 100 && !synchronous; attempt++)
        {
            var pending = _runtime.ApplyAsync(CartId, _batch);
            synchronous = pending.IsCompletedSuccessfully;
            BenchCarts.Complete(pending).Dispose();
            if (!synchronous)
            {
                Thread.Sleep(20);
            }
        }

        if (!synchronous)
        {
            throw new InvalidOperationException("durable single Apply set-up: an Apply on an idle shard never completed synchronously (the thread pool was never idle for 2 s)");
        }

        _expectedVersion = EnsureStored("set-up");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            // Every measured call changed the cart by two versions and was written through.
            var stored = EnsureStored("clean-up");
            if (stored <= _expectedVersion || (stored - _expectedVersion) % 2 != 0)
            {
                throw new InvalidOperationException($"durable single Apply ({Store}): the stored version went from {_expectedVersion} to {stored}, not by whole Applies");
            }
        }
        finally
        {
            _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _store.Dispose();
            if (_directory is not null)
            {
                BenchNode.DeleteDirectory(_directory);
            }
        }
    }

    /// <summary>AddItem + ChangeQuantity back to 1 on a warm cart, written through before it returns.</summary>
    [Benchmark]
    public int Apply()
    {
        using var outcome = BenchCarts.Complete(_runtime.ApplyAsync(CartId, _batch));
        return outcome.Result.Mutations.Count;
    }

    private ulong EnsureStored(string when)
    {
        ulong live;
        using (var lease = _runtime.Get(CartId))
        {
            live = lease.Version;
        }

        var stored = _store.Load(CartId)?.State;
        if (stored is null || stored.Version != live || stored.Items.Count != 1 || stored.Items[0].Quantity != 1)
        {
            throw new InvalidOperationException($"durable single Apply ({Store}, {when}): cart {CartId} is live at version {live} but the store holds {stored?.ToString() ?? "nothing"}");
        }

        return live;
    }
}

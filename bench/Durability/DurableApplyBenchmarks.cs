using BenchmarkDotNet.Attributes;
using CartActor.Bench.Configs;
using CartActor.Bench.Core;
using CartActor.Bench.Node;
using CartActor.Cart.Messages;
using CartActor.Persistence;
using CartActor.Persistence.Redis;
using CartActor.Persistence.RocksDb;
using CartActor.Tests.Shared.Redis;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Bench.Durability;

/// <summary>
/// Durable Apply throughput in-process through <see cref="CartRuntime"/> with a store, as the node runs it:
/// <see cref="Callers"/> concurrent callers on the thread pool, each on its own warm cart (spread over the
/// runtime's shards), each awaiting <see cref="AppliesPerCaller"/> Applies in a row (AddItem + set the
/// quantity back: valid forever, same record size). Every Apply that changed a cart is acknowledged only
/// after its shard pass was written (one WriteBatch / one Redis round trip per pass). Figures are per Apply;
/// Op/s is Applies per second. Read beside <see cref="RocksDbWriteBenchmarks"/>, measured in the same run.
/// Never rename these methods or parameter values once their figures are recorded.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputColumns))]
public class DurableApplyBenchmarks
{
    public const int Callers = 64;
    public const int AppliesPerCaller = 4;

    private const ulong CartBase = 4_000_001;

    private readonly Task[] _running = new Task[Callers];
    private Func<Task>[] _callers = null!;
    private Any[] _batch = null!;
    private CartRuntime _runtime = null!;
    private ICartStore? _store;
    private RedisServerFixture? _redis;
    private string? _directory;
    private int _refused;

    /// <summary>memory: no store. rocksdb-fsync / rocksdb-os: the embedded store, WAL synced or left to the OS. redis: a local redis-server, persistence off.</summary>
    [Params("memory", "rocksdb-fsync", "rocksdb-os", "redis")]
    public string Store { get; set; } = "memory";

    [GlobalSetup]
    public void Setup()
    {
        try
        {
            _store = OpenStore();
            // InlinePassAnswers as the node sets it: these callers only await, like the node's endpoint.
            _runtime = new CartRuntime(new CartRuntimeOptions { IdleTtl = TimeSpan.FromDays(1), SweepInterval = TimeSpan.FromDays(1), InlinePassAnswers = true }, store: _store);
            var item = BenchCarts.Item(1);
            _batch = [Any.Pack(new AddItem(item) { Quantity = 1 }), Any.Pack(new ChangeQuantity { ItemId = 1, Quantity = 1 })];
            _callers = new Func<Task>[Callers];
            for (var i = 0; i < Callers; i++)
            {
                var cartId = CartBase + (ulong)i;
                var state = BenchCarts.ApplyChecked(_runtime, cartId, _batch);
                if (state.Items.Count != 1 || state.Items[0].Id != 1 || state.Items[0].Quantity != 1)
                {
                    throw new InvalidOperationException($"durability suite set-up: cart {cartId} is not one line at quantity 1: {state}");
                }

                _callers[i] = () => RunCaller(cartId);
            }

            // One measured invocation before timing: nothing refused, every cart's latest version in the store.
            Apply();
            EnsureWritten("set-up");
            var shards = _callers.Select((_, i) => _runtime.ShardOf(CartBase + (ulong)i)).Distinct().Count();
            Console.WriteLine($"// durability suite: store {Store} ({_store?.Name ?? "none"}), {Callers} callers on {shards} of {_runtime.ShardCount} shards");
        }
        catch
        {
            Cleanup();
            throw;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            if (_runtime is not null && _callers is not null)
            {
                EnsureWritten("clean-up");
            }
        }
        finally
        {
            _runtime?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _store?.Dispose();
            _redis?.Dispose();
            if (_directory is not null)
            {
                BenchNode.DeleteDirectory(_directory);
            }
        }
    }

    [Benchmark(OperationsPerInvoke = Callers * AppliesPerCaller)]
    public void Apply()
    {
        for (var i = 0; i < _running.Length; i++)
        {
            _running[i] = Task.Run(_callers[i]);
        }

        Task.WaitAll(_running);
    }

    private async Task RunCaller(ulong cartId)
    {
        for (var i = 0; i < AppliesPerCaller; i++)
        {
            using var outcome = await _runtime.ApplyAsync(cartId, _batch).ConfigureAwait(false);
            var mutations = outcome.Result.Mutations;
            if (mutations[0].HasError || mutations[1].HasError)
            {
                Interlocked.Increment(ref _refused);
            }
        }
    }

    private ICartStore? OpenStore()
    {
        switch (Store)
        {
            case "memory":
                return null;
            case "rocksdb-fsync":
            case "rocksdb-os":
                _directory = Path.Combine(Path.GetTempPath(), "cartactor-bench-durable-" + Guid.NewGuid().ToString("N"));
                return RocksDbCartStore.Open(new RocksDbStoreOptions
                {
                    Path = _directory,
                    Mode = Store == "rocksdb-fsync" ? DurabilityMode.Fsync : DurabilityMode.Os,
                });
            case "redis":
                _redis = new RedisServerFixture();
                return RedisCartStore.Connect(new RedisStoreOptions { ConnectionString = _redis.ConnectionString });
            default:
                throw new ArgumentException($"unknown store '{Store}'");
        }
    }

    /// <summary>No measured mutation was refused, and the store holds each cart at its live version (written through).</summary>
    private void EnsureWritten(string when)
    {
        if (Volatile.Read(ref _refused) != 0)
        {
            throw new InvalidOperationException($"durability suite ({Store}, {when}): {_refused} Applies refused a mutation");
        }

        if (_store is null)
        {
            return;
        }

        for (var i = 0; i < Callers; i++)
        {
            var cartId = CartBase + (ulong)i;
            ulong live;
            using (var lease = _runtime.Get(cartId))
            {
                live = lease.Version;
            }

            var stored = _store.Load(cartId)?.State;
            if (stored is null || stored.Version != live || stored.Items.Count != 1 || stored.Items[0].Quantity != 1)
            {
                throw new InvalidOperationException(
                    $"durability suite ({Store}, {when}): cart {cartId} is live at version {live} but the store holds {stored?.ToString() ?? "nothing"}");
            }
        }
    }
}

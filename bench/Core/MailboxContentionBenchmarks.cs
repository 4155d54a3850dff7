using BenchmarkDotNet.Attributes;
using CartActor.Cart.Messages;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Bench.Core;

/// <summary>
/// Hand-off under contention: <see cref="Callers"/> callers on the thread pool, each with its own cart,
/// all carts in the same mailbox shard, each caller awaiting <see cref="AppliesPerCaller"/> Applies in a
/// row. Callers that find the shard busy queue (pooled work item, reusable value-task source) and are
/// resumed by whoever holds the shard. Reported per Apply; includes starting the callers (Task.Run).
/// </summary>
[MemoryDiagnoser]
public class MailboxContentionBenchmarks
{
    public const int Callers = 8;
    public const int AppliesPerCaller = 16;   // even: each caller's line ends where it started

    private CartRuntime _runtime = null!;
    private ulong[] _cartIds = null!;
    private Any[] _grow = null!;
    private Any[] _shrink = null!;
    private Func<Task>[] _callers = null!;
    private Task[] _running = null!;
    private int _refused;

    [GlobalSetup]
    public void Setup()
    {
        _runtime = BenchCarts.CreateRuntime();
        var shard = _runtime.ShardOf(1);
        _cartIds = Enumerable.Range(1, 10_000).Select(i => (ulong)i).Where(id => _runtime.ShardOf(id) == shard).Take(Callers).ToArray();
        if (_cartIds.Length != Callers)
        {
            throw new InvalidOperationException("MailboxContention: not enough cart ids in one shard");
        }

        var item = BenchCarts.Item(1);
        _grow = [Any.Pack(item)];
        foreach (var id in _cartIds)
        {
            var state = BenchCarts.ApplyChecked(_runtime, id, _grow);
            if (BenchCarts.LineIdOf(state, item.Sku) != 1)
            {
                throw new InvalidOperationException("MailboxContention: a fresh cart's first line is expected to be id 1");
            }
        }

        _shrink = [Any.Pack(new ChangeQuantity { ItemId = 1, Quantity = 1 })];
        _callers = new Func<Task>[Callers];
        for (var i = 0; i < Callers; i++)
        {
            var cartId = _cartIds[i];
            _callers[i] = () => RunCaller(cartId);
        }

        _running = new Task[Callers];
        MailboxContention();
        if (Volatile.Read(ref _refused) != 0)
        {
            throw new InvalidOperationException("MailboxContention: mutations were refused in set-up");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var refused = Volatile.Read(ref _refused);
        _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (refused != 0)
        {
            throw new InvalidOperationException($"MailboxContention: {refused} measured mutations were refused");
        }
    }

    [Benchmark(OperationsPerInvoke = Callers * AppliesPerCaller)]
    public void MailboxContention()
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
            using var outcome = await _runtime.ApplyAsync(cartId, (i & 1) == 0 ? _grow : _shrink).ConfigureAwait(false);
            if (outcome.Result.Mutations[0].HasError)
            {
                Interlocked.Increment(ref _refused);
            }
        }
    }
}

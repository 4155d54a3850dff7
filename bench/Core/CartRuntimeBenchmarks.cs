using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using CartActor.Cart;
using CartActor.Cart.Messages;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Bench.Core;

/// <summary>
/// The in-process hot path through the real <see cref="CartRuntime"/>: Apply on a warm cart with no other
/// callers (the shard is idle, so the batch runs inline on the caller's thread) and a lock-free Get.
/// Every mutation list is built once in set-up, so what is measured is the runtime, not the benchmark.
/// Gated by bench/gates.json: never rename these methods (their recorded figures are keyed by name).
/// </summary>
[MemoryDiagnoser]
public class CartRuntimeBenchmarks
{
    private const ulong AddCartId = 1_001;
    private const ulong BatchCartId = 2_002;
    private const ulong GetCartId = 3_003;

    private CartRuntime _runtime = null!;

    // ApplyAddItem: one line grows by one per call. At the per-line limit (once per 998 calls) the line is
    // set back to quantity 1 directly in the cart model, between two calls, while the shard is idle and
    // nobody else touches the cart. Doing it through Apply would add 1/998 of a ChangeQuantity Apply
    // (about 0.8 B) to every measured call and make the exact allocation gate flip on rounding.
    private Any[] _addOne = null!;
    private CartItem _addLine = null!;
    private int _addQuantity;
    private ulong _addExpectedVersion;

    // ApplyBatch5: a batch that changes the cart five times and leaves both lines where they were.
    private Any[] _batch5 = null!;
    private ulong _batchExpectedVersion;

    [GlobalSetup]
    public void Setup()
    {
        _runtime = BenchCarts.CreateRuntime();

        var item = BenchCarts.Item(1);
        var addState = BenchCarts.ApplyChecked(_runtime, AddCartId, [Any.Pack(item)]);
        _addOne = [Any.Pack(item)];
        _addLine = BenchCarts.LiveModelOf(_runtime, AddCartId).State.Items.Single();
        _addQuantity = 1;
        _addExpectedVersion = addState.Version;

        // Two lines, a delivery and a voucher.
        var a = BenchCarts.Item(1);
        var b = BenchCarts.Item(2);
        var batchState = BenchCarts.ApplyChecked(_runtime, BatchCartId,
            [Any.Pack(a), Any.Pack(b), Any.Pack(BenchCarts.HomeDelivery()), Any.Pack(BenchCarts.Voucher())]);
        var lineA = BenchCarts.LineIdOf(batchState, a.Sku);
        var lineB = BenchCarts.LineIdOf(batchState, b.Sku);
        _batch5 =
        [
            Any.Pack(new AddItem(a) { Quantity = 1 }),
            Any.Pack(new AddItem(b) { Quantity = 1 }),
            Any.Pack(new ChangeQuantity { ItemId = lineA, Quantity = 5 }),
            Any.Pack(new ChangeQuantity { ItemId = lineA, Quantity = 1 }),
            Any.Pack(new ChangeQuantity { ItemId = lineB, Quantity = 1 }),
        ];
        _batchExpectedVersion = batchState.Version;

        BenchCarts.ApplyChecked(_runtime, GetCartId, BenchCarts.RealisticCart());

        // Prove the measured calls succeed, through the limit reset and beyond, before timing them.
        for (var i = 0; i < 2 * CartLimits.MaxQuantityPerLine + 10; i++)
        {
            using var outcome = ApplyAddItemOutcome();
            BenchCarts.EnsureNoErrors(outcome, AddCartId);
        }

        for (var i = 0; i < 10; i++)
        {
            using var outcome = ApplyBatch5Outcome();
            BenchCarts.EnsureNoErrors(outcome, BatchCartId);
        }

        using (var lease = _runtime.Get(BatchCartId))
        {
            var state = lease.State.Unpack<CartState>();
            if (state.Items.Count != 2 || state.Items.Any(i => i.Quantity != 1) || state.Deliveries.Count != 1 || state.Vouchers.Count != 1)
            {
                throw new InvalidOperationException($"ApplyBatch5 does not leave the cart as it found it: {state}");
            }
        }

        using (var lease = _runtime.Get(GetCartId))
        {
            if (lease.Version == 0 || lease.State.Unpack<CartState>().Items.Count != 5)
            {
                throw new InvalidOperationException("Get: the warm cart is not live");
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // A refused mutation does not bump the version: every measured call must have changed its cart.
        BenchCarts.EnsureVersion(_runtime, AddCartId, _addExpectedVersion, nameof(ApplyAddItem));
        BenchCarts.EnsureVersion(_runtime, BatchCartId, _batchExpectedVersion, nameof(ApplyBatch5));
        _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>One AddItem on a warm cart, no other callers.</summary>
    [Benchmark]
    public int ApplyAddItem()
    {
        using var outcome = ApplyAddItemOutcome();
        return outcome.Result.Mutations.Count;
    }

    /// <summary>Five mutations (2 AddItem, 3 ChangeQuantity) on a warm cart with a delivery and a voucher.</summary>
    [Benchmark]
    public int ApplyBatch5()
    {
        using var outcome = ApplyBatch5Outcome();
        return outcome.Result.Mutations.Count;
    }

    /// <summary>Lease and release the packed state of a warm cart (five lines, a delivery, a voucher).</summary>
    [Benchmark]
    public ulong Get()
    {
        using var lease = _runtime.Get(GetCartId);
        return lease.Version;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Packing.ApplyOutcome ApplyAddItemOutcome()
    {
        if (_addQuantity == CartLimits.MaxQuantityPerLine)
        {
            ResetAddLine();
        }

        _addQuantity++;
        _addExpectedVersion++;
        return BenchCarts.Complete(_runtime.ApplyAsync(AddCartId, _addOne));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Packing.ApplyOutcome ApplyBatch5Outcome()
    {
        _batchExpectedVersion += 5;
        return BenchCarts.Complete(_runtime.ApplyAsync(BatchCartId, _batch5));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ResetAddLine()
    {
        // The next Apply re-packs the state and recomputes the totals; the version does not move.
        CartModel.SetQuantity(_addLine, 1);
        _addQuantity = 1;
    }
}

using System.Collections.Concurrent;
using System.Reflection;
using CartActor.Cart;
using CartActor.Cart.Messages;
using CartActor.Grains;
using CartActor.Mailboxes;
using CartActor.Packing;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Bench.Core;

/// <summary>
/// Set-up helpers shared by the core suite: a runtime with no background work during measurement, the
/// mutations of a realistic cart, and checks that a result carries no mutation errors. Nothing here runs
/// inside a measured method except <see cref="Complete"/>.
/// </summary>
internal static class BenchCarts
{
    /// <summary>A runtime whose idle sweep never fires during a run: the benchmarks measure Apply/Get, not sweeps.</summary>
    public static CartRuntime CreateRuntime() => new(new CartRuntimeOptions
    {
        IdleTtl = TimeSpan.FromDays(1),
        SweepInterval = TimeSpan.FromDays(1),
    });

    public static AddItem Item(int n, int quantity = 1) => new()
    {
        Sku = $"SKU-{n:D6}",
        Name = $"Espresso beans, dark roast {n} x 1 kg",
        Image = $"https://cdn.example.com/img/sku-{n:D6}.jpg",
        Quantity = quantity,
        UnitPrice = 24_900 + n,
        OriginalPrice = 29_900 + n,
        TaxRate = 1200,
    };

    public static SetDelivery HomeDelivery() => new() { Provider = "postnord-home", Price = 4_900 };

    public static AddVoucher Voucher() => new() { Code = "WELCOME-2025", Amount = 5_000 };

    /// <summary>Five lines, a delivery for all of them and a voucher.</summary>
    public static Any[] RealisticCart() =>
    [
        Any.Pack(Item(1, 2)),
        Any.Pack(Item(2)),
        Any.Pack(Item(3, 3)),
        Any.Pack(Item(4)),
        Any.Pack(Item(5)),
        Any.Pack(HomeDelivery()),
        Any.Pack(Voucher()),
    ];

    /// <summary>The result of an Apply that the runtime completes inline (idle shard), else waits for it.</summary>
    public static ApplyOutcome Complete(ValueTask<ApplyOutcome> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    /// <summary>Applies a batch outside measurement and fails the run if any mutation was refused.</summary>
    public static CartState ApplyChecked(CartRuntime runtime, ulong cartId, IReadOnlyList<Any> mutations)
    {
        using var outcome = Complete(runtime.ApplyAsync(cartId, mutations));
        EnsureNoErrors(outcome, cartId);
        return outcome.Result.State.Unpack<CartState>();
    }

    public static void EnsureNoErrors(in ApplyOutcome outcome, ulong cartId)
    {
        foreach (var mutation in outcome.Result.Mutations)
        {
            if (mutation.HasError)
            {
                throw new InvalidOperationException(
                    $"benchmark set-up is invalid: cart {cartId} refused {mutation.Type}: {mutation.Error}");
            }
        }
    }

    public static uint LineIdOf(CartState state, string sku) =>
        state.Items.FirstOrDefault(i => i.Sku == sku)?.Id
        ?? throw new InvalidOperationException($"cart {state.Id} has no line for {sku}");

    /// <summary>
    /// The live model of a cart, for set-up that must not go through Apply. Only safe while the cart's shard
    /// is idle and the caller is the cart's only user. Fails loudly if the runtime's internals change shape.
    /// </summary>
    public static CartModel LiveModelOf(CartRuntime runtime, ulong cartId)
    {
        const BindingFlags Private = BindingFlags.Instance | BindingFlags.NonPublic;
        var grains = typeof(MailboxShard).GetField("_grains", Private)?.GetValue(runtime.ShardOf(cartId)) as ConcurrentDictionary<ulong, CartGrain>;
        if (grains is null || !grains.TryGetValue(cartId, out var grain))
        {
            throw new InvalidOperationException($"cart {cartId} is not live, or MailboxShard no longer keeps its grains in _grains");
        }

        return typeof(CartGrain).GetField("_model", Private)?.GetValue(grain) as CartModel
            ?? throw new InvalidOperationException("CartGrain no longer keeps its model in _model");
    }

    /// <summary>Fails a run whose measured calls did not all change the cart (a refused mutation does not bump version).</summary>
    public static void EnsureVersion(CartRuntime runtime, ulong cartId, ulong expected, string benchmark)
    {
        using var lease = runtime.Get(cartId);
        if (lease.Version != expected)
        {
            throw new InvalidOperationException(
                $"{benchmark}: cart {cartId} is at version {lease.Version}, expected {expected}; some measured calls were refused");
        }
    }
}

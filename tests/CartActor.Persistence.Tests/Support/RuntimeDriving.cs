using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Packing;
using CartActor.Tests.Shared;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Persistence.Tests.Support;

/// <summary>An Apply's answer copied out of the pooled buffers before its outcome was disposed.</summary>
internal sealed record Applied(ApplyResult Result, CartState State, bool IsReplay);

/// <summary>Drives a <see cref="CartRuntime"/> the way a caller does: every await has a timeout, every lease is disposed.</summary>
internal static class RuntimeDriving
{
    public static Any AddItem(string sku, int quantity = 1, long unitPrice = 1_000, int taxRate = 2_500) =>
        Any.Pack(new AddItem { Sku = sku, Quantity = quantity, UnitPrice = unitPrice, TaxRate = taxRate });

    public static CartRuntime CreateRuntime(ICartStore store, TimeProvider? time = null) =>
        new(new CartRuntimeOptions { ShardCount = 2 }, time, store: store);

    public static async Task<Applied> ApplyAsync(this CartRuntime runtime, ulong cartId, string? idempotencyKey, params Any[] mutations)
    {
        using var outcome = await runtime.ApplyAsync(cartId, mutations, idempotencyKey).WithTimeout();

        // ToByteArray/ParseFrom, not Clone: the result wraps bytes that go back to a pool with the outcome.
        var copy = ApplyResult.Parser.ParseFrom(outcome.Result.ToByteArray());
        foreach (var mutation in copy.Mutations)
        {
            Assert.False(mutation.HasError, $"{mutation.Type} was refused: {mutation.Error}");
        }

        return new Applied(copy, copy.State.Unpack<CartState>(), outcome.IsReplay);
    }

    /// <summary>The answer of an Apply started earlier (to watch it wait), copied out and disposed.</summary>
    public static async Task<Applied> AnsweredAsync(this Task<ApplyOutcome> apply)
    {
        using var outcome = await apply.WithTimeout();
        var copy = ApplyResult.Parser.ParseFrom(outcome.Result.ToByteArray());
        return new Applied(copy, copy.State.Unpack<CartState>(), outcome.IsReplay);
    }

    public static async Task<CartState> ReadStateAsync(this CartRuntime runtime, ulong cartId)
    {
        using var lease = await runtime.GetAsync(cartId).WithTimeout();
        return lease.State.Unpack<CartState>();
    }

    public static Task DisposeWithTimeoutAsync(this CartRuntime runtime) => runtime.DisposeAsync().WithTimeout();
}

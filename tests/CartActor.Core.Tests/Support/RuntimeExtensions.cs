using CartActor.Cart;
using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Core.Tests.Support;

/// <summary>Drives a <see cref="CartRuntime"/> the way a caller does: every await has a timeout, every lease is disposed.</summary>
internal static class RuntimeExtensions
{
    public static Task<Applied> ApplyAndReadAsync(this CartRuntime runtime, ulong cartId, params Any[] mutations) =>
        runtime.ApplyKeyedAndReadAsync(cartId, null, mutations);

    public static async Task<Applied> ApplyKeyedAndReadAsync(this CartRuntime runtime, ulong cartId, string? idempotencyKey, params Any[] mutations)
    {
        using var outcome = await runtime.ApplyAsync(cartId, mutations, idempotencyKey).WithTimeout();
        return Detach(outcome.Result, outcome.IsReplay);
    }

    /// <summary>Applies a batch that must succeed in full and returns the state after it.</summary>
    public static async Task<CartState> ApplyOkAsync(this CartRuntime runtime, ulong cartId, params Any[] mutations) =>
        (await runtime.ApplyAndReadAsync(cartId, mutations)).AssertAllSucceeded().State;

    /// <summary>
    /// Copies a result out of the pooled state buffer. <see cref="IMessage{T}.Clone"/> would not do: it shares the
    /// wrapped <see cref="ByteString"/>, whose bytes go back to the pool when the outcome is disposed.
    /// </summary>
    public static Applied Detach(ApplyResult result, bool isReplay)
    {
        var copy = ApplyResult.Parser.ParseFrom(result.ToByteArray());
        return new Applied(copy, copy.State.Unpack<CartState>(), isReplay);
    }

    public static CartState ReadState(this CartRuntime runtime, ulong cartId)
    {
        using var lease = runtime.Get(cartId);
        var state = lease.State.Unpack<CartState>();
        Assert.Equal(lease.Version, state.Version);
        return state;
    }

    /// <summary>The cart's full record (state, id counters, idempotency window); an untouched cart reads as a new one.</summary>
    public static async Task<CartRecord> ExportOrEmptyAsync(this CartRuntime runtime, ulong cartId) =>
        await runtime.ExportAsync(cartId).WithTimeout() ?? CartModel.CreateEmpty(cartId, runtime.Options.Currency).Record;

    /// <summary>
    /// Applies one mutation that must be refused: its result carries an error containing every fragment, the
    /// returned state is the state before, and the cart's whole record (ids, window, version) is unchanged.
    /// </summary>
    public static async Task<string> AssertRefusedAsync(this CartRuntime runtime, ulong cartId, Any mutation, params string[] errorFragments)
    {
        var before = await runtime.ExportOrEmptyAsync(cartId);
        var applied = await runtime.ApplyAndReadAsync(cartId, mutation);

        var result = Assert.Single(applied.Result.Mutations);
        Assert.True(result.HasError, $"{mutation.TypeUrl} was accepted but should have been refused");
        foreach (var fragment in errorFragments)
        {
            Assert.Contains(fragment, result.Error, StringComparison.Ordinal);
        }

        Assert.Equal(before.State, applied.State);
        var after = await runtime.ExportAsync(cartId).WithTimeout();
        Assert.Equal(before, after);
        return result.Error;
    }
}

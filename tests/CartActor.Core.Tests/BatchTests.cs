using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Core.Tests;

/// <summary>
/// A batch applies in order; a refused mutation (a rule, an unknown type, an undecodable payload) leaves the
/// cart exactly as it was while the rest still apply; a malformed request is refused as a whole.
/// </summary>
public sealed class BatchTests : IAsyncLifetime
{
    private const ulong CartId = 21;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    public static TheoryData<string, byte[]> GarbagePayloads => new()
    {
        { "truncated varint", [0x20, 0xFF, 0xFF] },
        { "zero tag", [0x00, 0x01] },
        { "length past the end", [0x0A, 0x7F, 0x41] },
        { "all ones", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] },
        { "end-group without start", [0x0C] },
        { "invalid UTF-8 in sku", [0x0A, 0x02, 0xC3, 0x28, 0x20, 0x01] },
    };

    [Fact]
    public async Task AFailingMiddleMutation_LeavesTheOthersAppliedInOrder()
    {
        const ulong referenceCart = CartId + 1;
        var first = AddItem("a", quantity: 2, unitPrice: 300);
        var refused = AddItem("b", quantity: 0);
        var last = AddItem("c", quantity: 1, unitPrice: 700);

        var applied = await _runtime.ApplyAndReadAsync(CartId, first, refused, last);

        Assert.Equal(3, applied.Result.Mutations.Count);
        Assert.False(applied[0].HasError);
        Assert.True(applied[1].HasError);
        Assert.Contains("quantity 0", applied[1].Error, StringComparison.Ordinal);
        Assert.False(applied[2].HasError);

        // The refused mutation consumed nothing, not even a line id: the cart equals one given only the others.
        var expected = await _runtime.ApplyOkAsync(referenceCart, first, last);
        expected.Id = CartId;
        Assert.Equal(expected, applied.State);
        Assert.Equal([1u, 2u], applied.State.Items.Select(i => i.Id));
        Assert.Equal(2UL, applied.State.Version);
    }

    [Fact]
    public async Task Results_EchoEachMutationWithItsShortTypeName()
    {
        var mutations = new[] { AddItem("a"), ChangeQuantity(1, 3), RemoveItem(8), BeginCheckout() };

        var applied = await _runtime.ApplyAndReadAsync(CartId, mutations);

        Assert.Equal(["AddItem", "ChangeQuantity", "RemoveItem", "BeginCheckout"], applied.Result.Mutations.Select(m => m.Type));
        Assert.Equal(mutations, applied.Result.Mutations.Select(m => m.Message));
        Assert.Equal([false, false, true, false], applied.Result.Mutations.Select(m => m.HasError));
        Assert.All(applied.Result.Mutations.Where(m => !m.HasError), m => Assert.Equal("", m.Error));
    }

    [Fact]
    public async Task MutationsApplyInBatchOrder()
    {
        var forward = await _runtime.ApplyAndReadAsync(CartId, AddItem("a"), ChangeQuantity(1, 5));
        var backward = await _runtime.ApplyAndReadAsync(CartId + 1, ChangeQuantity(1, 5), AddItem("a"));

        forward.AssertAllSucceeded();
        Assert.Equal(5, Assert.Single(forward.State.Items).Quantity);
        Assert.True(backward[0].HasError);
        Assert.False(backward[1].HasError);
        Assert.Equal(1, Assert.Single(backward.State.Items).Quantity);
    }

    [Fact]
    public async Task AnUnknownTypeUrl_IsRefusedByName_AndTheRestApply()
    {
        var unknown = new Any { TypeUrl = TypeUrlPrefix + "ApplyDiscount", Value = ByteString.CopyFrom(1, 2, 3) };

        var applied = await _runtime.ApplyAndReadAsync(CartId, AddItem("a"), unknown, AddItem("b"));

        Assert.True(applied[1].HasError);
        Assert.Contains("cart_messages.ApplyDiscount", applied[1].Error, StringComparison.Ordinal);
        Assert.Equal("ApplyDiscount", applied[1].Type);
        Assert.Equal(["a", "b"], applied.State.Items.Select(i => i.Sku));
        Assert.Equal(2UL, applied.State.Version);
    }

    [Fact]
    public async Task AKnownMessageThatIsNotAMutation_IsRefusedByName()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));

        await _runtime.AssertRefusedAsync(CartId, Any.Pack(new CartState { Id = 5 }), "cart_messages.CartState");
    }

    [Fact]
    public async Task AnEmptyTypeUrl_IsRefused()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));

        await _runtime.AssertRefusedAsync(CartId, new Any(), "type_url");
    }

    [Theory]
    [MemberData(nameof(GarbagePayloads))]
    public async Task AnUndecodablePayload_IsRefusedNamingItsType_AndTheRestApply(string garbage, byte[] payload)
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));
        var before = await _runtime.ExportOrEmptyAsync(CartId);
        var undecodable = new Any { TypeUrl = TypeUrlPrefix + "AddItem", Value = ByteString.CopyFrom(payload) };

        var applied = await _runtime.ApplyAndReadAsync(CartId, undecodable, AddItem("b"));

        Assert.True(applied[0].HasError, $"{garbage} was decoded");
        Assert.Contains("cart_messages.AddItem", applied[0].Error, StringComparison.Ordinal);
        Assert.Equal("AddItem", applied[0].Type);
        Assert.False(applied[1].HasError);
        Assert.Equal(["a", "b"], applied.State.Items.Select(i => i.Sku));
        Assert.Equal(before.State.Version + 1, applied.State.Version);
    }

    [Fact]
    public async Task ATypeUrlWithAnotherPrefix_StillFindsItsHandler()
    {
        var custom = AddItem("a");
        custom.TypeUrl = "example.com/types/cart_messages.AddItem";

        var state = await _runtime.ApplyOkAsync(CartId, custom);

        Assert.Equal("a", Assert.Single(state.Items).Sku);
    }

    [Fact]
    public async Task IdZero_IsAnInvalidArgument()
    {
        var error = await AssertInvalidArgumentAsync(() => _runtime.ApplyAsync(0, [AddItem("a")]));
        Assert.Contains("id", error.Message, StringComparison.Ordinal);

        var getError = Assert.Throws<CartRuntimeException>(() => _runtime.Get(0).Dispose());
        Assert.Equal(CartRequestError.InvalidArgument, getError.Error);
    }

    [Fact]
    public async Task AnEmptyBatch_IsAnInvalidArgument()
    {
        await AssertInvalidArgumentAsync(() => _runtime.ApplyAsync(CartId, []));
        await AssertInvalidArgumentAsync(() => _runtime.ApplyAsync(CartId, null!));

        Assert.Equal(0, _runtime.ActiveCarts);
    }

    [Fact]
    public async Task TooManyMutations_IsAnInvalidArgument_AndNoneApply()
    {
        await using var runtime = TestRuntime.Create(o => o.MaxMutationsPerApply = 3);

        var error = await AssertInvalidArgumentAsync(() => runtime.ApplyAsync(CartId, [AddItem("a"), AddItem("b"), AddItem("c"), AddItem("d")]));
        Assert.Contains("4", error.Message, StringComparison.Ordinal);
        Assert.Equal(0UL, runtime.ReadState(CartId).Version);
        Assert.False(runtime.IsActive(CartId));

        var atTheLimit = await runtime.ApplyOkAsync(CartId, AddItem("a"), AddItem("b"), AddItem("c"));
        Assert.Equal(3UL, atTheLimit.Version);
    }

    [Fact]
    public async Task TheDefaultLimitIs400MutationsPerApply()
    {
        var adds = Enumerable.Range(0, 401).Select(i => AddItem($"sku-{i % CartActor.Cart.CartLimits.MaxLines}")).ToArray();

        await AssertInvalidArgumentAsync(() => _runtime.ApplyAsync(CartId, adds));
        var state = await _runtime.ApplyOkAsync(CartId, adds[..400]);

        // 200 new lines, then 200 increments of the same lines: every mutation changed the cart.
        Assert.Equal(400UL, state.Version);
        Assert.Equal(CartActor.Cart.CartLimits.MaxLines, state.Items.Count);
    }

    [Fact]
    public async Task ANullMutation_IsAnInvalidArgument() =>
        await AssertInvalidArgumentAsync(() => _runtime.ApplyAsync(CartId, [AddItem("a"), null!]));

    [Theory]
    [InlineData(0)]
    [InlineData(129)]
    public async Task AnIdempotencyKeyOfBadLength_IsAnInvalidArgument(int length) =>
        await AssertInvalidArgumentAsync(() => _runtime.ApplyAsync(CartId, [AddItem("a")], new string('k', length)));

    private static async Task<CartRuntimeException> AssertInvalidArgumentAsync(Func<ValueTask<Packing.ApplyOutcome>> apply)
    {
        var error = await Assert.ThrowsAsync<CartRuntimeException>(async () =>
        {
            using var outcome = await apply().WithTimeout();
        });
        Assert.Equal(CartRequestError.InvalidArgument, error.Error);
        Assert.False(error.IsRetryable);
        return error;
    }
}

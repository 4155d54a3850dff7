using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using Grpc.Core;

namespace CartActor.Node.Tests.Storefront;

/// <summary>cartactor.cart.v1.CartService over gRPC (h2c) on a real node: every RPC, versions, idempotency keys.</summary>
[Collection(SharedNodeCollection.Name)]
public sealed class TypedCartServiceTests(NodeFixture fixture)
{
    private CartService.CartServiceClient Client => new(fixture.Node.Channel);

    private static Metadata Key(string key) => new() { { "idempotency-key", key } };

    [Fact]
    public async Task TheStorefrontFlow_EveryMutationRpc_ReturnsTheTypedCart()
    {
        var id = Carts.NewId();
        Assert.Equal(0UL, (await Client.GetCartAsync(new GetCartRequest { CartId = id }).WithTimeout()).Version);

        var state = await Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("sku-coffee", 2, 4_990) }).WithTimeout();
        state = await Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("sku-mug", 1, 14_825) }).WithTimeout();
        state = await Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("sku-filter", 3, 500, 1200) }).WithTimeout();
        Assert.Equal(3, state.Items.Count);
        state = await Client.ChangeQuantityAsync(new ChangeQuantityRequest { CartId = id, ItemId = 1, Quantity = 5 }).WithTimeout();
        Assert.Equal(5, state.Items[0].Quantity);
        state = await Client.RemoveItemAsync(new RemoveItemRequest { CartId = id, ItemId = 3 }).WithTimeout();
        Assert.Equal(2, state.Items.Count);
        state = await Client.SetDeliveryAsync(new SetDeliveryRequest { CartId = id, Delivery = new SetDelivery { Provider = "postnord", Price = 4_900, TaxRate = 2500 } }).WithTimeout();
        Assert.Equal(980, Assert.Single(state.Deliveries).Tax);
        state = await Client.RemoveDeliveryAsync(new RemoveDeliveryRequest { CartId = id, DeliveryId = 1 }).WithTimeout();
        Assert.Empty(state.Deliveries);
        state = await Client.SetDeliveryAsync(new SetDeliveryRequest { CartId = id, Delivery = new SetDelivery { Provider = "postnord", Price = 4_900, TaxRate = 2500 } }).WithTimeout();
        state = await Client.AddVoucherAsync(new AddVoucherRequest { CartId = id, Voucher = new AddVoucher { Code = "X", Amount = 100 } }).WithTimeout();
        state = await Client.RemoveVoucherAsync(new RemoveVoucherRequest { CartId = id, VoucherId = 1 }).WithTimeout();
        state = await Client.AddVoucherAsync(new AddVoucherRequest { CartId = id, Voucher = new AddVoucher { Code = "WELCOME", Amount = 5_000 } }).WithTimeout();

        // The figures: items 5 x 4,990 + 14,825 = 39,775 (VAT 7,955), delivery 4,900 (980), voucher 5,000 (-1,000).
        Assert.Equal(7_955 + 980 - 1_000, state.TotalTax);
        Assert.Equal(39_675, state.TotalPrice);
        state = await Client.BeginCheckoutAsync(new BeginCheckoutRequest { CartId = id }).WithTimeout();
        Assert.Equal(CartStatus.Checkout, state.Status);
        state = await Client.CompleteOrderAsync(new CompleteOrderRequest { CartId = id, OrderReference = "ORDER-1" }).WithTimeout();
        Assert.Equal(CartStatus.Ordered, state.Status);
        Assert.Equal("ORDER-1", state.OrderReference);
        Carts.AssertConsistent(state, id);

        var read = await Client.GetCartAsync(new GetCartRequest { CartId = id }).WithTimeout();
        Assert.Equal(state, read);

        // The same cart through the seed's contract: one path, one cart.
        Assert.Equal(state, Carts.State(await fixture.Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout()));
    }

    [Fact]
    public async Task ClearCart_EmptiesTheCart()
    {
        var id = Carts.NewId();
        await Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("a") }).WithTimeout();

        var state = await Client.ClearCartAsync(new ClearCartRequest { CartId = id }).WithTimeout();

        Assert.Empty(state.Items);
        Assert.Equal(2UL, state.Version);
    }

    [Fact]
    public async Task ARefusedMutation_IsFailedPrecondition_NamingTheRule_AndChangesNothing()
    {
        var id = Carts.NewId();
        await Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("a") }).WithTimeout();

        var ex = await GrpcTestExtensions.AssertStatusAsync(StatusCode.FailedPrecondition, Client.RemoveItemAsync(new RemoveItemRequest { CartId = id, ItemId = 42 }));

        Assert.Contains("no item with id 42", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1UL, (await Client.GetCartAsync(new GetCartRequest { CartId = id }).WithTimeout()).Version);
    }

    [Fact]
    public async Task AMissingBody_IsInvalidArgument() =>
        await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument, Client.AddItemAsync(new AddItemRequest { CartId = Carts.NewId() }));

    [Fact]
    public async Task ExpectedVersion_Matching_Applies_Mismatching_IsAbortedAndChangesNothing()
    {
        var id = Carts.NewId();
        var state = await Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("a") }).WithTimeout();

        state = await Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("b"), ExpectedVersion = state.Version }).WithTimeout();
        Assert.Equal(2UL, state.Version);

        var ex = await GrpcTestExtensions.AssertStatusAsync(StatusCode.Aborted, Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("c"), ExpectedVersion = 1 }));
        Assert.Contains("version 2, not the expected 1", ex.Status.Detail, StringComparison.Ordinal);
        var batch = new MutateRequest { CartId = id, ExpectedVersion = 7 };
        batch.Mutations.Add(new Mutation { AddItem = Carts.Item("d") });
        await GrpcTestExtensions.AssertStatusAsync(StatusCode.Aborted, Client.MutateAsync(batch));

        var now = await Client.GetCartAsync(new GetCartRequest { CartId = id }).WithTimeout();
        Assert.Equal(2UL, now.Version);
        Assert.Equal(["a", "b"], now.Items.Select(i => i.Sku));
    }

    [Fact]
    public async Task Mutate_AppliesTheBatchInOrder_WithOneResultPerMutation()
    {
        var id = Carts.NewId();
        var request = new MutateRequest { CartId = id, ExpectedVersion = 0 };
        request.Mutations.Add(new Mutation { AddItem = Carts.Item("a", 2) });
        request.Mutations.Add(new Mutation { RemoveItem = new RemoveItem { ItemId = 9 } });
        var attributes = new SetCartAttributes();
        attributes.Attributes.Add("channel", "web");
        request.Mutations.Add(new Mutation { SetCartAttributes = attributes });
        var line = new SetItemAttributes { ItemId = 1 };
        line.Attributes.Add("gift", "yes");
        request.Mutations.Add(new Mutation { SetItemAttributes = line });

        var reply = await Client.MutateAsync(request).WithTimeout();

        Assert.Equal(["AddItem", "RemoveItem", "SetCartAttributes", "SetItemAttributes"], reply.Results.Select(r => r.Type));
        Assert.Equal([false, true, false, false], reply.Results.Select(r => r.HasError));
        Assert.Equal("web", reply.Cart.Attributes["channel"]);
        Assert.Equal("yes", reply.Cart.Items[0].Attributes["gift"]);
        Assert.Equal(3UL, reply.Cart.Version);
    }

    [Fact]
    public async Task Mutate_WithAnEmptyOneof_IsInvalidArgumentNamingIt()
    {
        var request = new MutateRequest { CartId = Carts.NewId() };
        request.Mutations.Add(new Mutation { AddItem = Carts.Item("a") });
        request.Mutations.Add(new Mutation());

        var ex = await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument, Client.MutateAsync(request));
        Assert.Contains("mutations[1]", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnIdempotencyKey_AppliesOnce_AndItsReuseForAnotherRequest_IsInvalidArgument()
    {
        var id = Carts.NewId();
        var add = new AddItemRequest { CartId = id, Item = Carts.Item("a") };

        var first = await Client.AddItemAsync(add, Key("typed-1")).WithTimeout();
        var again = await Client.AddItemAsync(add, Key("typed-1")).WithTimeout();

        Assert.Equal(first, again);
        Assert.Equal(1, again.Items[0].Quantity);
        var ex = await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument, Client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("b") }, Key("typed-1")));
        Assert.Contains("typed-1", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnIdempotentRetry_WithExpectedVersion_Replays_InsteadOfAborting()
    {
        var id = Carts.NewId();
        var add = new AddItemRequest { CartId = id, Item = Carts.Item("a"), ExpectedVersion = 0 };

        var first = await Client.AddItemAsync(add, Key("typed-v")).WithTimeout();
        var retry = await Client.AddItemAsync(add, Key("typed-v")).WithTimeout();

        Assert.Equal(first, retry);
        Assert.Equal(1UL, retry.Version);
    }
}

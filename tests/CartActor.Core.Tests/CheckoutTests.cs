using Google.Protobuf.WellKnownTypes;

namespace CartActor.Core.Tests;

/// <summary>The OPEN -> CHECKOUT -> ORDERED flow and what each status allows.</summary>
public sealed class CheckoutTests : IAsyncLifetime
{
    private const ulong CartId = 11;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    /// <summary>Every mutation type, each valid against the cart <see cref="FillAsync"/> builds.</summary>
    public static TheoryData<string> AllMutations => new(MutationsByName.Keys);

    /// <summary>The item, delivery and voucher mutations: a change by any of them during CHECKOUT reopens the cart.</summary>
    public static TheoryData<string> ContentMutations => new(MutationsByName.Keys.Where(n => n is not ("BeginCheckout" or "CompleteOrder")));

    private static readonly Dictionary<string, Any> MutationsByName = new()
    {
        ["AddItem"] = AddItem("new-sku"),
        ["RemoveItem"] = RemoveItem(2),
        ["ChangeQuantity"] = ChangeQuantity(1, 5),
        ["ClearCart"] = ClearCart(),
        ["SetDelivery"] = SetDelivery("dhl", 990),
        ["RemoveDelivery"] = RemoveDelivery(1),
        ["AddVoucher"] = AddVoucher("NEW", 100),
        ["RemoveVoucher"] = RemoveVoucher(1),
        ["BeginCheckout"] = BeginCheckout(),
        ["CompleteOrder"] = CompleteOrder("order-2"),
    };

    [Fact]
    public async Task BeginCheckout_MovesAnOpenCartToCheckout()
    {
        await FillAsync();

        var state = await _runtime.ApplyOkAsync(CartId, BeginCheckout());

        Assert.Equal(CartStatus.Checkout, state.Status);
        Assert.Equal(5UL, state.Version);
    }

    [Fact]
    public async Task BeginCheckout_RefusesAnEmptyCart() =>
        await _runtime.AssertRefusedAsync(CartId, BeginCheckout(), "BeginCheckout", "empty");

    [Fact]
    public async Task BeginCheckout_RefusesACartAlreadyInCheckout()
    {
        await FillAsync();
        await _runtime.ApplyOkAsync(CartId, BeginCheckout());

        await _runtime.AssertRefusedAsync(CartId, BeginCheckout(), "BeginCheckout", "CHECKOUT");
    }

    [Fact]
    public async Task CompleteOrder_MovesACheckoutCartToOrdered()
    {
        await FillAsync();
        await _runtime.ApplyOkAsync(CartId, BeginCheckout());

        var state = await _runtime.ApplyOkAsync(CartId, CompleteOrder("order-1"));

        Assert.Equal(CartStatus.Ordered, state.Status);
        Assert.Equal("order-1", state.OrderReference);
        Assert.Equal(6UL, state.Version);
    }

    [Fact]
    public async Task CompleteOrder_RefusesAnOpenCart()
    {
        await FillAsync();

        await _runtime.AssertRefusedAsync(CartId, CompleteOrder("order-1"), "CompleteOrder", "OPEN");
    }

    [Fact]
    public async Task CompleteOrder_RefusesAnEmptyOrderReference()
    {
        await FillAsync();
        await _runtime.ApplyOkAsync(CartId, BeginCheckout());

        await _runtime.AssertRefusedAsync(CartId, CompleteOrder(""), "CompleteOrder", "order_reference");
    }

    [Theory]
    [MemberData(nameof(AllMutations))]
    public async Task AnOrderedCart_RefusesEveryMutation(string mutation)
    {
        await FillAsync();
        await _runtime.ApplyOkAsync(CartId, BeginCheckout(), CompleteOrder("order-1"));

        await _runtime.AssertRefusedAsync(CartId, MutationsByName[mutation], mutation, "ORDERED");
    }

    [Theory]
    [MemberData(nameof(ContentMutations))]
    public async Task AChangeDuringCheckout_MovesTheCartBackToOpen(string mutation)
    {
        await FillAsync();
        await _runtime.ApplyOkAsync(CartId, BeginCheckout());

        var applied = await _runtime.ApplyAndReadAsync(CartId, MutationsByName[mutation]);

        applied.AssertAllSucceeded();
        Assert.Equal(CartStatus.Open, applied.State.Status);
        Assert.Equal(6UL, applied.State.Version);
    }

    [Fact]
    public async Task ARefusedOrNoOpMutationDuringCheckout_KeepsCheckout()
    {
        await FillAsync();
        await _runtime.ApplyOkAsync(CartId, BeginCheckout());

        var applied = await _runtime.ApplyAndReadAsync(CartId, ChangeQuantity(1, 1), RemoveItem(99), AddVoucher("SPRING", 10), RemoveDelivery(42));

        Assert.False(applied[0].HasError);
        Assert.True(applied[1].HasError);
        Assert.True(applied[2].HasError);
        Assert.True(applied[3].HasError);
        Assert.Equal(CartStatus.Checkout, applied.State.Status);
        Assert.Equal(5UL, applied.State.Version);
    }

    [Fact]
    public async Task AReopenedCart_CanCheckOutAgainAndBeOrdered()
    {
        await FillAsync();
        await _runtime.ApplyOkAsync(CartId, BeginCheckout(), AddItem("late-addition"));

        var state = await _runtime.ApplyOkAsync(CartId, BeginCheckout(), CompleteOrder("order-9"));

        Assert.Equal(CartStatus.Ordered, state.Status);
        Assert.Equal(3, state.Items.Count);
    }

    /// <summary>Two items (ids 1, 2), one delivery (id 1) and one voucher (id 1, code SPRING): version 4.</summary>
    private Task<CartState> FillAsync() =>
        _runtime.ApplyOkAsync(CartId, AddItem("a", quantity: 1), AddItem("b", quantity: 2), SetDelivery("postnord", 490), AddVoucher("SPRING", 100));
}

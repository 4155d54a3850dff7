using CartActor.Cart;

namespace CartActor.Core.Tests;

/// <summary>AddItem, RemoveItem, ChangeQuantity and ClearCart: their rules, their errors and the line ids they hand out.</summary>
public sealed class ItemMutationTests : IAsyncLifetime
{
    private const ulong CartId = 42;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task AddItem_NewSku_AddsLineWithItsFieldsAndDerivedTotals()
    {
        var state = await _runtime.ApplyOkAsync(CartId, AddItem("sku-1", quantity: 3, unitPrice: 1250, taxRate: 2500, originalPrice: 1500, name: "Mug", image: "mug.png"));

        var line = Assert.Single(state.Items);
        Assert.Equal(1u, line.Id);
        Assert.Equal("sku-1", line.Sku);
        Assert.Equal("Mug", line.Name);
        Assert.Equal("mug.png", line.Image);
        Assert.Equal(3, line.Quantity);
        Assert.Equal(1250, line.UnitPrice);
        Assert.Equal(1500, line.OriginalPrice);
        Assert.Equal(2500, line.TaxRate);
        Assert.Equal(3750, line.LineTotal);
        Assert.Equal(750, line.LineTax); // 3750 x 2500 / 12500
        Assert.Equal(CartId, state.Id);
        Assert.Equal(1UL, state.Version);
    }

    [Fact]
    public async Task AddItem_SameSku_GrowsTheExistingLine()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("sku-1", quantity: 2, unitPrice: 500), AddItem("sku-2"));
        var state = await _runtime.ApplyOkAsync(CartId, AddItem("sku-1", quantity: 5, unitPrice: 500));

        Assert.Equal(2, state.Items.Count);
        var line = state.Items.Single(i => i.Sku == "sku-1");
        Assert.Equal(1u, line.Id);
        Assert.Equal(7, line.Quantity);
        Assert.Equal(3500, line.LineTotal);
        Assert.Equal(700, line.LineTax);
        Assert.Equal(3UL, state.Version);
    }

    [Fact]
    public async Task AddItem_SkuIsCaseSensitive()
    {
        var state = await _runtime.ApplyOkAsync(CartId, AddItem("abc"), AddItem("ABC"));

        Assert.Equal(["abc", "ABC"], state.Items.Select(i => i.Sku));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(999)]
    public async Task AddItem_AcceptsQuantityAtTheLimits(int quantity)
    {
        var state = await _runtime.ApplyOkAsync(CartId, AddItem("sku-1", quantity: quantity));

        Assert.Equal(quantity, Assert.Single(state.Items).Quantity);
    }

    [Fact]
    public async Task AddItem_AcceptsZeroPricesAndTaxRatesAtTheLimits()
    {
        var state = await _runtime.ApplyOkAsync(
            CartId,
            AddItem("free", unitPrice: 0, originalPrice: 0, taxRate: 0),
            AddItem("full-vat", unitPrice: 200, taxRate: CartLimits.MaxTaxRate));

        Assert.Equal(0, state.Items[0].LineTotal);
        Assert.Equal(0, state.Items[0].LineTax);
        Assert.Equal(100, state.Items[1].LineTax); // 200 x 10000 / 20000
    }

    [Theory]
    [InlineData(0, "quantity 0 is outside 1..999")]
    [InlineData(-1, "quantity -1 is outside 1..999")]
    [InlineData(1000, "quantity 1000 is outside 1..999")]
    public async Task AddItem_RefusesQuantityOutsideOneTo999(int quantity, string error)
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("other"));

        await _runtime.AssertRefusedAsync(CartId, AddItem("sku-1", quantity: quantity), "AddItem", error);
    }

    [Fact]
    public async Task AddItem_RefusesGrowingALineBeyond999()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("sku-1", quantity: 990));

        await _runtime.AssertRefusedAsync(CartId, AddItem("sku-1", quantity: 10), "AddItem", "sku-1", "1000");
        var state = await _runtime.ApplyOkAsync(CartId, AddItem("sku-1", quantity: 9));
        Assert.Equal(999, Assert.Single(state.Items).Quantity);
    }

    [Fact]
    public async Task AddItem_RefusesNegativeUnitPrice() =>
        await _runtime.AssertRefusedAsync(CartId, AddItem("sku-1", unitPrice: -1), "AddItem", "unit_price -1");

    [Fact]
    public async Task AddItem_RefusesNegativeOriginalPrice() =>
        await _runtime.AssertRefusedAsync(CartId, AddItem("sku-1", originalPrice: -1), "AddItem", "original_price -1");

    [Fact]
    public async Task AddItem_RefusesPriceAboveTheMoneyLimit() =>
        await _runtime.AssertRefusedAsync(CartId, AddItem("sku-1", unitPrice: CartLimits.MaxPrice + 1), "AddItem", "unit_price");

    [Theory]
    [InlineData(-1)]
    [InlineData(10_001)]
    public async Task AddItem_RefusesTaxRateOutside0To10000(int taxRate) =>
        await _runtime.AssertRefusedAsync(CartId, AddItem("sku-1", taxRate: taxRate), "AddItem", $"tax_rate {taxRate}", "0..10000");

    [Fact]
    public async Task AddItem_RefusesEmptySku() =>
        await _runtime.AssertRefusedAsync(CartId, AddItem(""), "AddItem", "sku must not be empty");

    [Fact]
    public async Task AddItem_RefusesOverlongText() =>
        await _runtime.AssertRefusedAsync(CartId, AddItem("sku-1", name: new string('n', CartLimits.MaxTextLength + 1)), "AddItem", "at most");

    [Fact]
    public async Task AddItem_RefusesANewLineBeyondTheLineLimit()
    {
        for (var batch = 0; batch < CartLimits.MaxLines / 100; batch++)
        {
            var adds = Enumerable.Range(batch * 100, 100).Select(i => AddItem($"sku-{i}")).ToArray();
            await _runtime.ApplyOkAsync(CartId, adds);
        }

        await _runtime.AssertRefusedAsync(CartId, AddItem("one-too-many"), "AddItem", $"{CartLimits.MaxLines} lines");
        // An existing line still grows.
        var state = await _runtime.ApplyOkAsync(CartId, AddItem("sku-0"));
        Assert.Equal(2, state.Items[0].Quantity);
    }

    [Fact]
    public async Task LineIds_AreNeverReusedAfterRemoval()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"), AddItem("b"), AddItem("c"));
        await _runtime.ApplyOkAsync(CartId, RemoveItem(3), ChangeQuantity(2, 0));
        var afterRemoval = await _runtime.ApplyOkAsync(CartId, AddItem("b"), AddItem("c"));

        Assert.Equal([1u, 4u, 5u], afterRemoval.Items.Select(i => i.Id));

        await _runtime.ApplyOkAsync(CartId, ClearCart());
        var afterClear = await _runtime.ApplyOkAsync(CartId, AddItem("a"));

        Assert.Equal(6u, Assert.Single(afterClear.Items).Id);
    }

    [Fact]
    public async Task RemoveItem_RemovesOnlyThatLine()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a", unitPrice: 100), AddItem("b", unitPrice: 200), AddItem("c", unitPrice: 300));

        var state = await _runtime.ApplyOkAsync(CartId, RemoveItem(2));

        Assert.Equal(["a", "c"], state.Items.Select(i => i.Sku));
        Assert.Equal(400, state.TotalPrice);
        Assert.Equal(4UL, state.Version);
    }

    [Fact]
    public async Task RemoveItem_RefusesAnUnknownId()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));

        await _runtime.AssertRefusedAsync(CartId, RemoveItem(9), "RemoveItem", "no item with id 9");
    }

    [Fact]
    public async Task RemoveItem_RefusesAnIdRemovedBefore()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"), AddItem("b"), RemoveItem(1));

        await _runtime.AssertRefusedAsync(CartId, RemoveItem(1), "RemoveItem", "no item with id 1");
    }

    [Fact]
    public async Task ChangeQuantity_SetsQuantityAndRecomputesTheLine()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a", quantity: 1, unitPrice: 999, taxRate: 2500));

        var state = await _runtime.ApplyOkAsync(CartId, ChangeQuantity(1, 3));

        var line = Assert.Single(state.Items);
        Assert.Equal(3, line.Quantity);
        Assert.Equal(2997, line.LineTotal);
        Assert.Equal(599, line.LineTax);
        Assert.Equal(2997, state.TotalPrice);
        Assert.Equal(2UL, state.Version);
    }

    [Fact]
    public async Task ChangeQuantity_ToZeroRemovesTheLine()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"), AddItem("b"));

        var state = await _runtime.ApplyOkAsync(CartId, ChangeQuantity(1, 0));

        Assert.Equal("b", Assert.Single(state.Items).Sku);
        Assert.Equal(3UL, state.Version);
    }

    [Fact]
    public async Task ChangeQuantity_ToTheSameQuantityIsNotAChange()
    {
        var before = await _runtime.ApplyOkAsync(CartId, AddItem("a", quantity: 4));

        var applied = await _runtime.ApplyAndReadAsync(CartId, ChangeQuantity(1, 4));

        Assert.False(applied[0].HasError);
        Assert.Equal(before, applied.State);
        Assert.Equal(1UL, applied.State.Version);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1000)]
    public async Task ChangeQuantity_RefusesQuantityOutside0To999(int quantity)
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a", quantity: 2));

        await _runtime.AssertRefusedAsync(CartId, ChangeQuantity(1, quantity), "ChangeQuantity", $"quantity {quantity}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public async Task ChangeQuantity_RefusesAnUnknownId(int quantity)
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"));

        await _runtime.AssertRefusedAsync(CartId, ChangeQuantity(7, quantity), "ChangeQuantity", "no item with id 7");
    }

    [Fact]
    public async Task ClearCart_RemovesItemsDeliveriesAndVouchers()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"), AddItem("b"), SetDelivery("post", 490), AddVoucher("TEN", 10));

        var state = await _runtime.ApplyOkAsync(CartId, ClearCart());

        Assert.Empty(state.Items);
        Assert.Empty(state.Deliveries);
        Assert.Empty(state.Vouchers);
        Assert.Equal(0, state.TotalPrice);
        Assert.Equal(0, state.TotalTax);
        Assert.Equal(0, state.TotalDiscount);
        Assert.Equal(CartStatus.Open, state.Status);
        Assert.Equal(5UL, state.Version);
    }

    [Fact]
    public async Task ClearCart_OnAnEmptyCartIsNotAChange()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a"), RemoveItem(1));

        var applied = await _runtime.ApplyAndReadAsync(CartId, ClearCart());

        Assert.False(applied[0].HasError);
        Assert.Equal(2UL, applied.State.Version);
    }
}

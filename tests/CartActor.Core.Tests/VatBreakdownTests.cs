using CartActor.Cart;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Core.Tests;

/// <summary>
/// VAT per rate (tax_lines): deliveries carry a rate; vouchers are split over the rates by gross share
/// (largest remainder) and lower each rate's VAT by the same fraction. Every figure below is computed by hand
/// in the comment beside it; the breakdown always adds up to total_price and total_tax.
/// </summary>
public sealed class VatBreakdownTests : IAsyncLifetime
{
    private const ulong CartId = 31;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task TheIssuesExample_DeliveryAndVoucherChangeTheVat()
    {
        // Items holding 7,955 of VAT at 25 %: 39,775 x 25/125 = 7,955. Delivery 4,900 at 25 %: 980.
        // Voucher 5,000 (one rate takes all of it): 8,935 x 5,000/44,675 = 1,000 exactly.
        var state = await _runtime.ApplyOkAsync(
            CartId,
            AddItem("coffee", quantity: 5, unitPrice: 4_990, taxRate: 2500),
            AddItem("mug", quantity: 1, unitPrice: 14_825, taxRate: 2500),
            Delivery("postnord-home", 4_900, 2500),
            AddVoucher("WELCOME", 5_000));

        Assert.Equal(7_955, state.Items.Sum(i => i.LineTax));
        Assert.Equal(980, Assert.Single(state.Deliveries).Tax);
        Assert.Equal(39_775 + 4_900 - 5_000, state.TotalPrice);
        Assert.Equal(7_955 + 980 - 1_000, state.TotalTax);
        Assert.Equal(state.TotalPrice / 5, state.TotalTax); // one rate: 25/125 of what is paid
        AssertLines(state, (2500, 39_675, 7_935));
    }

    [Fact]
    public async Task MixedRates_WithDelivery_NoVoucher_AreSummedPerRate()
    {
        var state = await _runtime.ApplyOkAsync(CartId, MixedCart());

        // 25 %: 10,000 + delivery 1,000 -> VAT 2,000 + 200. 12 %: 5,600 -> 600.
        AssertLines(state, (1200, 5_600, 600), (2500, 11_000, 2_200));
        Assert.Equal(2_800, state.TotalTax);
        Assert.Equal(16_600, state.TotalPrice);
    }

    [Fact]
    public async Task MixedRates_AVoucherIsSplitByGrossShare()
    {
        var state = await _runtime.ApplyOkAsync(CartId, [.. MixedCart(), AddVoucher("V", 3_000)]);

        // Shares of 3,000 by gross 5,600 : 11,000 of 16,600: 1,012.05 and 1,987.95 -> floors 1,012 + 1,987 = 2,999,
        // the leftover unit to the larger remainder (.95, 25 %): 1,012 and 1,988.
        // VAT: 12 %: 600 x 1,012/5,600 = 108.4 -> 108, leaves 492. 25 %: 2,200 x 1,988/11,000 = 397.6 -> 398, leaves 1,802.
        AssertLines(state, (1200, 5_600 - 1_012, 492), (2500, 11_000 - 1_988, 1_802));
        Assert.Equal(492 + 1_802, state.TotalTax);
        Assert.Equal(16_600 - 3_000, state.TotalPrice);
    }

    [Fact]
    public async Task MixedRates_AVoucherLargerThanOneRatesGross_StillSplitsByShare()
    {
        var state = await _runtime.ApplyOkAsync(CartId, [.. MixedCart(), AddVoucher("V", 12_000)]);

        // 12,000 is more than the 12 % rate's whole 5,600, yet each rate gives its share: 4,048.19 and 7,951.81 ->
        // 4,048 + 7,951 = 11,999, the leftover to 25 % (.81): 4,048 and 7,952.
        // VAT: 12 %: 600 x 4,048/5,600 = 433.7 -> 434, leaves 166. 25 %: 2,200 x 7,952/11,000 = 1,590.4 -> 1,590, leaves 610.
        AssertLines(state, (1200, 1_552, 166), (2500, 3_048, 610));
        Assert.Equal(776, state.TotalTax);
        Assert.Equal(4_600, state.TotalPrice);
    }

    [Fact]
    public async Task AVoucherAboveTheGross_LeavesNoVatAtAnyRate()
    {
        var state = await _runtime.ApplyOkAsync(CartId, [.. MixedCart(), AddVoucher("V", 20_000)]);

        AssertLines(state, (1200, 0, 0), (2500, 0, 0));
        Assert.Equal(0, state.TotalTax);
        Assert.Equal(0, state.TotalPrice);
        Assert.Equal(16_600, state.TotalDiscount);
    }

    [Fact]
    public async Task RemovingTheVoucher_RestoresTheVat_AndARateThatGoesDropsItsLine()
    {
        await _runtime.ApplyOkAsync(CartId, [.. MixedCart(), AddVoucher("V", 3_000)]);

        var state = await _runtime.ApplyOkAsync(CartId, RemoveVoucher(1), RemoveItem(2));

        AssertLines(state, (2500, 11_000, 2_200));
        Assert.Equal(2_200, state.TotalTax);
    }

    [Fact]
    public async Task SetDelivery_RefusesATaxRateOutOfRange() =>
        await _runtime.AssertRefusedAsync(CartId, Delivery("p", 100, 10_001), "SetDelivery", "tax_rate 10001");

    [Theory]
    [InlineData(1, new long[] { 1, 1, 1 }, new long[] { 1, 0, 0 })]        // thirds: every remainder equal, the first takes it
    [InlineData(100, new long[] { 1, 1, 1 }, new long[] { 34, 33, 33 })]
    [InlineData(10, new long[] { 5, 0, 5 }, new long[] { 5, 0, 5 })]
    [InlineData(7, new long[] { 2, 3, 5 }, new long[] { 1, 2, 4 })]         // 1.4, 2.1, 3.5 -> 1 + 2 + 3 = 6, the .5 takes the 7th
    public void Allocate_AddsUpExactly(long amount, long[] gross, long[] expected)
    {
        var share = new long[gross.Length];
        TaxBreakdown.Allocate(amount, gross, share);
        Assert.Equal(expected, share);
        Assert.Equal(amount, share.Sum());
    }

    private static Any[] MixedCart() =>
    [
        AddItem("a", quantity: 1, unitPrice: 10_000, taxRate: 2500),
        AddItem("b", quantity: 2, unitPrice: 2_800, taxRate: 1200),
        Delivery("postnord-home", 1_000, 2500),
    ];

    private static Any Delivery(string provider, long price, int taxRate) =>
        Any.Pack(new SetDelivery { Provider = provider, Price = price, TaxRate = taxRate });

    private static void AssertLines(CartState state, params (int Rate, long Gross, long Tax)[] expected)
    {
        Assert.Equal(expected, state.TaxLines.Select(l => (l.Rate, l.Gross, l.Tax)));
        Assert.Equal(state.TotalPrice, state.TaxLines.Sum(l => l.Gross));
        Assert.Equal(state.TotalTax, state.TaxLines.Sum(l => l.Tax));
    }
}

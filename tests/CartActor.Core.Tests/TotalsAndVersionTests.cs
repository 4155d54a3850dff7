using Microsoft.Extensions.Time.Testing;

namespace CartActor.Core.Tests;

/// <summary>total_price, total_tax, total_discount, version and updated_at_unix_ms as a client reads them.</summary>
public sealed class TotalsAndVersionTests : IAsyncLifetime
{
    private const ulong CartId = 13;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly CartRuntime _runtime;

    public TotalsAndVersionTests()
    {
        _runtime = TestRuntime.Create(time: _time);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task Totals_AreItemsPlusDeliveriesMinusVouchers()
    {
        var state = await _runtime.ApplyOkAsync(
            CartId,
            AddItem("a", quantity: 2, unitPrice: 1000, taxRate: 2500),
            AddItem("b", quantity: 1, unitPrice: 560, taxRate: 1200),
            SetDelivery("postnord", 490),
            AddVoucher("TEN", 300));

        Assert.Equal(2000 + 560 + 490 - 300, state.TotalPrice);
        // Before the voucher: 2000 x 25/125 = 400 and 560 x 12/112 = 60 (the delivery has no rate). The voucher's
        // 300 splits by gross share (490 : 560 : 2000 of 3050) into 48 + 55 + 197 (the largest remainder, .72 at
        // 25 %, takes the leftover unit); each rate's VAT drops by the same fraction: 60 x 55/560 = 5.9 -> 6,
        // 400 x 197/2000 = 39.4 -> 39.
        Assert.Equal((400 - 39) + (60 - 6), state.TotalTax);
        Assert.Equal(300, state.TotalDiscount);
    }

    [Fact]
    public async Task TotalDiscount_AddsLineDiscountsAndVouchers()
    {
        var state = await _runtime.ApplyOkAsync(
            CartId,
            AddItem("sale", quantity: 3, unitPrice: 800, originalPrice: 1000),
            AddItem("full", quantity: 1, unitPrice: 500, originalPrice: 500),
            AddItem("no-original", quantity: 2, unitPrice: 700),
            AddItem("pricier-than-original", quantity: 1, unitPrice: 900, originalPrice: 600),
            AddVoucher("TEN", 250));

        Assert.Equal((3 * 200) + 250, state.TotalDiscount);
        Assert.Equal(2400 + 500 + 1400 + 900 - 250, state.TotalPrice);
    }

    [Fact]
    public async Task TotalPrice_NeverGoesBelowZero_AndOnlyTheAppliedVoucherAmountCountsAsDiscount()
    {
        var state = await _runtime.ApplyOkAsync(
            CartId,
            AddItem("a", quantity: 1, unitPrice: 800, originalPrice: 1000),
            SetDelivery("postnord", 200),
            AddVoucher("BIG", 5000),
            AddVoucher("BIGGER", 700));

        Assert.Equal(0, state.TotalPrice);
        Assert.Equal(200 + 1000, state.TotalDiscount); // the line discount plus the 1000 the vouchers could take off
        Assert.Equal(0, state.TotalTax); // the vouchers cover every rate's gross, so no VAT is left
    }

    [Fact]
    public async Task Totals_FollowLaterChanges()
    {
        await _runtime.ApplyOkAsync(CartId, AddItem("a", quantity: 1, unitPrice: 800), AddVoucher("BIG", 5000));

        var state = await _runtime.ApplyOkAsync(CartId, RemoveVoucher(1), ChangeQuantity(1, 4));

        Assert.Equal(3200, state.TotalPrice);
        Assert.Equal(0, state.TotalDiscount);
        Assert.Equal(640, state.TotalTax);
    }

    [Fact]
    public async Task Version_CountsOnlyMutationsThatChangedTheCart()
    {
        var applied = await _runtime.ApplyAndReadAsync(
            CartId,
            AddItem("a", quantity: 2),      // change
            ChangeQuantity(1, 2),           // same quantity: no change
            RemoveItem(5),                  // refused
            AddItem("a", quantity: 1),      // change
            AddItem("", quantity: 1),       // refused
            ChangeQuantity(1, 1));          // change

        Assert.Equal([false, false, true, false, true, false], applied.Result.Mutations.Select(m => m.HasError));
        Assert.Equal(3UL, applied.State.Version);

        var noChange = await _runtime.ApplyAndReadAsync(CartId, ChangeQuantity(1, 1), RemoveVoucher(1));
        Assert.Equal(3UL, noChange.State.Version);
        Assert.Equal(3UL, _runtime.ReadState(CartId).Version);
    }

    [Fact]
    public async Task UpdatedAt_IsTheClockTimeOfTheLastChange()
    {
        var created = await _runtime.ApplyOkAsync(CartId, AddItem("a"));
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds(), created.UpdatedAtUnixMs);

        _time.Advance(TimeSpan.FromSeconds(5));
        var unchanged = await _runtime.ApplyAndReadAsync(CartId, ChangeQuantity(1, 1), RemoveItem(9));
        Assert.Equal(created.UpdatedAtUnixMs, unchanged.State.UpdatedAtUnixMs);

        _time.Advance(TimeSpan.FromSeconds(5));
        var changed = await _runtime.ApplyOkAsync(CartId, ChangeQuantity(1, 2));
        Assert.Equal(created.UpdatedAtUnixMs + 10_000, changed.UpdatedAtUnixMs);
    }

    [Fact]
    public async Task NewCart_UsesTheConfiguredCurrency()
    {
        await using var runtime = TestRuntime.Create(o => o.Currency = "SEK");

        var state = await runtime.ApplyOkAsync(CartId, AddItem("a"));

        Assert.Equal("SEK", state.Currency);
        Assert.Equal("SEK", runtime.ReadState(CartId + 1).Currency);
    }
}

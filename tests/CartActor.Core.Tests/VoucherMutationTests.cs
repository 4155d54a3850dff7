using CartActor.Cart;

namespace CartActor.Core.Tests;

/// <summary>AddVoucher and RemoveVoucher.</summary>
public sealed class VoucherMutationTests : IAsyncLifetime
{
    private const ulong CartId = 9;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public async Task InitializeAsync() => await _runtime.ApplyOkAsync(CartId, AddItem("a", quantity: 2, unitPrice: 5000));

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task AddVoucher_AddsItAndReducesThePrice()
    {
        var state = await _runtime.ApplyOkAsync(CartId, AddVoucher("SPRING", 1500));

        var voucher = Assert.Single(state.Vouchers);
        Assert.Equal(1u, voucher.Id);
        Assert.Equal("SPRING", voucher.Code);
        Assert.Equal(1500, voucher.Amount);
        Assert.Equal(10000 - 1500, state.TotalPrice);
        Assert.Equal(1500, state.TotalDiscount);
        Assert.Equal(2UL, state.Version);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-100)]
    public async Task AddVoucher_RefusesAnAmountThatIsNotPositive(long amount) =>
        await _runtime.AssertRefusedAsync(CartId, AddVoucher("SPRING", amount), "AddVoucher", $"amount {amount}");

    [Fact]
    public async Task AddVoucher_RefusesAnEmptyCode() =>
        await _runtime.AssertRefusedAsync(CartId, AddVoucher("", 100), "AddVoucher", "code");

    [Fact]
    public async Task AddVoucher_RefusesTheSameCodeTwice()
    {
        await _runtime.ApplyOkAsync(CartId, AddVoucher("SPRING", 1500));

        await _runtime.AssertRefusedAsync(CartId, AddVoucher("SPRING", 500), "AddVoucher", "'SPRING'");
        var state = await _runtime.ApplyOkAsync(CartId, AddVoucher("SUMMER", 500));
        Assert.Equal(["SPRING", "SUMMER"], state.Vouchers.Select(v => v.Code));
    }

    [Fact]
    public async Task AddVoucher_RefusesMoreThanTheVoucherLimit()
    {
        var vouchers = Enumerable.Range(0, CartLimits.MaxVouchers).Select(i => AddVoucher($"CODE-{i}", 10)).ToArray();
        await _runtime.ApplyOkAsync(CartId, vouchers);

        await _runtime.AssertRefusedAsync(CartId, AddVoucher("ONE-TOO-MANY", 10), "AddVoucher", $"{CartLimits.MaxVouchers} vouchers");
    }

    [Fact]
    public async Task RemoveVoucher_RemovesItAndRestoresThePrice()
    {
        await _runtime.ApplyOkAsync(CartId, AddVoucher("SPRING", 1500), AddVoucher("SUMMER", 500));

        var state = await _runtime.ApplyOkAsync(CartId, RemoveVoucher(1));

        Assert.Equal("SUMMER", Assert.Single(state.Vouchers).Code);
        Assert.Equal(10000 - 500, state.TotalPrice);
        Assert.Equal(500, state.TotalDiscount);
    }

    [Fact]
    public async Task RemoveVoucher_RefusesAnUnknownId()
    {
        await _runtime.ApplyOkAsync(CartId, AddVoucher("SPRING", 1500));

        await _runtime.AssertRefusedAsync(CartId, RemoveVoucher(3), "RemoveVoucher", "no voucher with id 3");
    }
}

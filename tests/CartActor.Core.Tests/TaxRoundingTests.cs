using CartActor.Cart;

namespace CartActor.Core.Tests;

/// <summary>
/// line_tax = line_total x rate / (10000 + rate), rounded half away from zero, in integers only; totals are
/// sums of the rounded lines.
/// </summary>
public sealed class TaxRoundingTests : IAsyncLifetime
{
    private const ulong CartId = 17;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Theory]
    [InlineData(2500, 599)] // 2997 x 2500 / 12500 = 599.4
    [InlineData(1200, 321)] // 2997 x 1200 / 11200 = 321.107...
    [InlineData(600, 170)]  // 2997 x 600 / 10600 = 169.64...
    [InlineData(0, 0)]
    public async Task ThreeAt999_CarriesTheRoundedTax(int taxRate, long expectedTax)
    {
        var state = await _runtime.ApplyOkAsync(CartId, AddItem("sku", quantity: 3, unitPrice: 999, taxRate: taxRate));

        var line = Assert.Single(state.Items);
        Assert.Equal(2997, line.LineTotal);
        Assert.Equal(expectedTax, line.LineTax);
        Assert.Equal(expectedTax, state.TotalTax);
        Assert.Equal(2997, state.TotalPrice);
    }

    [Fact]
    public async Task TotalTax_IsTheSumOfRoundedLineTaxes()
    {
        // Each line holds exactly half a minor unit of VAT: each rounds up to 1, so the total is 2, not round(1.0) = 1.
        var state = await _runtime.ApplyOkAsync(
            CartId,
            AddItem("a", quantity: 1, unitPrice: 1, taxRate: 10_000),
            AddItem("b", quantity: 1, unitPrice: 3, taxRate: 2000));

        Assert.Equal([1L, 1L], state.Items.Select(i => i.LineTax));
        Assert.Equal(2, state.TotalTax);
    }

    [Fact]
    public async Task LineTax_IsRoundedOnTheLineTotalNotPerUnit()
    {
        // Per unit: 999 x 2500 / 12500 = 199.8 -> 200, x 3 = 600. On the line: 599.4 -> 599.
        var state = await _runtime.ApplyOkAsync(CartId, AddItem("sku", quantity: 1, unitPrice: 999, taxRate: 2500), AddItem("sku", quantity: 2, unitPrice: 999, taxRate: 2500));

        Assert.Equal(599, Assert.Single(state.Items).LineTax);
    }

    [Theory]
    [InlineData(1, 10_000, 1)]     // 0.5 -> 1 (truncation and half-to-even give 0)
    [InlineData(3, 10_000, 2)]     // 1.5 -> 2
    [InlineData(5, 10_000, 3)]     // 2.5 -> 3 (half-to-even gives 2)
    [InlineData(15, 2000, 3)]      // 15 x 2000 / 12000 = 2.5 -> 3
    [InlineData(3, 2000, 1)]       // 0.5 -> 1
    [InlineData(45, 2000, 8)]      // 7.5 -> 8
    [InlineData(25, 2500, 5)]      // exactly 5
    [InlineData(14, 2000, 2)]      // 2.333 -> 2
    [InlineData(17, 2000, 3)]      // 2.833 -> 3
    [InlineData(2997, 2500, 599)]  // 599.4 -> 599
    [InlineData(2998, 2500, 600)]  // 599.6 -> 600
    [InlineData(0, 2500, 0)]
    [InlineData(1000, 0, 0)]
    public void IncludedTax_RoundsHalfAwayFromZero(long amount, int rate, long expected)
    {
        Assert.Equal(expected, Money.IncludedTax(amount, rate));
    }

    [Theory]
    [InlineData(-1, 10_000, -1)]   // -0.5 -> -1
    [InlineData(-5, 10_000, -3)]   // -2.5 -> -3
    [InlineData(-15, 2000, -3)]    // -2.5 -> -3
    [InlineData(-14, 2000, -2)]
    [InlineData(-2997, 2500, -599)]
    public void IncludedTax_IsSymmetricForNegativeAmounts(long amount, int rate, long expected)
    {
        Assert.Equal(expected, Money.IncludedTax(amount, rate));
        Assert.Equal(-expected, Money.IncludedTax(-amount, rate));
    }

    [Fact]
    public void IncludedTax_DoesNotOverflowOnTheLargestLine()
    {
        const long largestLine = CartLimits.MaxPrice * CartLimits.MaxQuantityPerLine;

        // 999 x 10^12 x 10000 overflows int64 in the numerator; the result must still be exact: half of it.
        Assert.Equal(largestLine / 2, Money.IncludedTax(largestLine, CartLimits.MaxTaxRate));
        Assert.Equal(largestLine / 5, Money.IncludedTax(largestLine, 2500));
    }

    [Fact]
    public void IncludedTax_MatchesExactRationalRoundingOverARange()
    {
        foreach (var rate in new[] { 1, 600, 1200, 2000, 2500, 3333, 10_000 })
        {
            for (long amount = -3000; amount <= 3000; amount++)
            {
                Assert.Equal(ReferenceTax(amount, rate), Money.IncludedTax(amount, rate));
            }
        }
    }

    [Fact]
    public void IncludedTax_MatchesExactRationalRoundingAcrossThe64BitPathLimit()
    {
        // IncludedTax computes in 64 bits below 2^48 and in Int128 above: both sides of that edge, and large amounts
        // on both paths, must give the exact rounding.
        const long edge = 1L << 48;
        var random = new Random(12);
        foreach (var rate in new[] { 1, 599, 2500, 3333, 9999, 10_000 })
        {
            for (long delta = -3; delta <= 3; delta++)
            {
                Assert.Equal(ReferenceTax(edge + delta, rate), Money.IncludedTax(edge + delta, rate));
                Assert.Equal(ReferenceTax(-(edge + delta), rate), Money.IncludedTax(-(edge + delta), rate));
            }

            for (var i = 0; i < 2000; i++)
            {
                var amount = random.NextInt64(-CartLimits.MaxPrice * CartLimits.MaxQuantityPerLine, CartLimits.MaxPrice * CartLimits.MaxQuantityPerLine);
                Assert.Equal(ReferenceTax(amount, rate), Money.IncludedTax(amount, rate));
                var small = random.NextInt64(-edge, edge);
                Assert.Equal(ReferenceTax(small, rate), Money.IncludedTax(small, rate));
            }
        }
    }

    /// <summary>An independent formulation: decimal division, then MidpointRounding.AwayFromZero.</summary>
    private static long ReferenceTax(long amount, int rate) =>
        (long)Math.Round((decimal)amount * rate / (10_000 + rate), MidpointRounding.AwayFromZero);
}

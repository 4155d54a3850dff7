namespace CartActor.Cart;

/// <summary>VAT arithmetic in integer minor units. No floating point anywhere near money.</summary>
public static class Money
{
    /// <summary>
    /// The VAT contained in a VAT-inclusive amount: amount x rate / (10000 + rate), rounded half away from zero.
    /// </summary>
    public static long IncludedTax(long amount, int taxRateBasisPoints)
    {
        if (taxRateBasisPoints == 0 || amount == 0)
        {
            return 0;
        }

        if (taxRateBasisPoints is > 0 and <= CartLimits.MaxTaxRate && amount is > -LongPathLimit and < LongPathLimit)
        {
            // The same exact integer arithmetic in 64 bits: 2 x |amount| x rate + (10000 + rate) stays below 2^63 here.
            // Int128's division is a software routine; this path is the one every line change takes (issue 12 profile).
            long magnitude64 = Math.Abs(amount) * taxRateBasisPoints;
            long denominator64 = 10_000 + taxRateBasisPoints;
            var rounded64 = (2 * magnitude64 + denominator64) / (2 * denominator64);
            return amount < 0 ? -rounded64 : rounded64;
        }

        Int128 numerator = (Int128)amount * taxRateBasisPoints;
        Int128 denominator = 10_000 + taxRateBasisPoints;
        Int128 magnitude = Int128.Abs(numerator);
        // Half away from zero: (2|n| + d) / 2d, then restore the sign.
        var rounded = (long)((2 * magnitude + denominator) / (2 * denominator));
        return numerator < 0 ? -rounded : rounded;
    }

    // 2^48 (2.8e14 minor units): 2 x 2^48 x 10,000 < 2^63. Larger amounts (up to MaxPrice x MaxQuantityPerLine) take Int128.
    private const long LongPathLimit = 1L << 48;

    /// <summary><paramref name="amount"/> x numerator / denominator for non-negative inputs, rounded half away from zero; 0 when denominator is 0.</summary>
    public static long Proportion(long amount, long numerator, long denominator)
    {
        if (denominator == 0)
        {
            return 0;
        }

        Int128 product = (Int128)amount * numerator;
        return (long)((2 * product + denominator) / (2 * (Int128)denominator));
    }
}

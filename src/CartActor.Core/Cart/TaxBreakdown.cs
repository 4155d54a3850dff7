using CartActor.Cart.Messages;
using Google.Protobuf.Collections;

namespace CartActor.Cart;

/// <summary>
/// The per-rate VAT breakdown (CartState.tax_lines) and the totals it implies. Vouchers are a discount on
/// the whole cart, so (EU practice for a discount across mixed rates) the applied voucher amount is split
/// over the rates in proportion to each rate's share of the gross total, by largest remainder so the
/// shares add up to the voucher exactly; each rate's VAT drops by the same fraction as its gross
/// (share / gross, rounded half away from zero): for one rate that is the VAT contained in its share. Then the
/// grosses add up to total_price and the taxes to total_tax, to the minor unit. Runs on every changing
/// Apply: it works on stack scratch and reuses the state's TaxLine objects, so a cart whose set of rates
/// does not change allocates nothing here.
/// </summary>
internal static class TaxBreakdown
{
    private const int StackRates = 32;

    /// <summary>Recomputes tax_lines; returns the total tax. <paramref name="voucher"/> is the applied amount (0..gross).</summary>
    public static long Compute(CartState state, long voucher)
    {
        var capacity = state.Items.Count + state.Deliveries.Count;
        Span<int> rates = capacity <= StackRates ? stackalloc int[StackRates] : new int[capacity];
        Span<long> gross = capacity <= StackRates ? stackalloc long[StackRates] : new long[capacity];
        Span<long> tax = capacity <= StackRates ? stackalloc long[StackRates] : new long[capacity];
        var count = 0;
        // Index loops: foreach over a RepeatedField allocates its enumerator.
        var items = state.Items;
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            Accumulate(rates, gross, tax, ref count, item.TaxRate, item.LineTotal, item.LineTax);
        }

        var deliveries = state.Deliveries;
        for (var i = 0; i < deliveries.Count; i++)
        {
            var delivery = deliveries[i];
            Accumulate(rates, gross, tax, ref count, delivery.TaxRate, delivery.Price, delivery.Tax);
        }

        rates = rates[..count];
        gross = gross[..count];
        tax = tax[..count];
        SortByRate(rates, gross, tax);
        if (voucher > 0)
        {
            Span<long> share = count <= StackRates ? stackalloc long[StackRates] : new long[count];
            Allocate(voucher, gross, share[..count]);
            for (var i = 0; i < count; i++)
            {
                // The rate's VAT shrinks by the fraction of its gross the voucher takes: a rate the voucher
                // covers entirely keeps no VAT, whatever its lines' rounding.
                tax[i] -= Money.Proportion(tax[i], share[i], gross[i]);
                gross[i] -= share[i];
            }
        }

        return Write(state.TaxLines, rates, gross, tax);
    }

    /// <summary>
    /// Splits <paramref name="amount"/> over <paramref name="gross"/> proportionally: floor shares first, then
    /// one minor unit each to the largest remainders (ties: the lower rate, i.e. the earlier entry).
    /// </summary>
    internal static void Allocate(long amount, ReadOnlySpan<long> gross, Span<long> share)
    {
        long total = 0;
        foreach (var g in gross)
        {
            total += g;
        }

        if (total == 0)
        {
            share.Clear();
            return;
        }

        Span<long> remainder = share.Length <= StackRates ? stackalloc long[StackRates] : new long[share.Length];
        long given = 0;
        for (var i = 0; i < gross.Length; i++)
        {
            var product = (Int128)amount * gross[i];
            share[i] = (long)(product / total);
            remainder[i] = (long)(product % total);
            given += share[i];
        }

        for (var left = amount - given; left > 0; left--)
        {
            var best = -1;
            for (var i = 0; i < gross.Length; i++)
            {
                if (remainder[i] >= 0 && (best < 0 || remainder[i] > remainder[best]))
                {
                    best = i;
                }
            }

            share[best]++;
            remainder[best] = -1; // each rate takes at most one extra unit: left < number of rates
        }
    }

    private static void Accumulate(Span<int> rates, Span<long> gross, Span<long> tax, ref int count, int rate, long amount, long amountTax)
    {
        for (var i = 0; i < count; i++)
        {
            if (rates[i] == rate)
            {
                gross[i] += amount;
                tax[i] += amountTax;
                return;
            }
        }

        rates[count] = rate;
        gross[count] = amount;
        tax[count] = amountTax;
        count++;
    }

    private static void SortByRate(Span<int> rates, Span<long> gross, Span<long> tax)
    {
        // Insertion sort: a cart has a handful of rates.
        for (var i = 1; i < rates.Length; i++)
        {
            for (var j = i; j > 0 && rates[j - 1] > rates[j]; j--)
            {
                (rates[j - 1], rates[j]) = (rates[j], rates[j - 1]);
                (gross[j - 1], gross[j]) = (gross[j], gross[j - 1]);
                (tax[j - 1], tax[j]) = (tax[j], tax[j - 1]);
            }
        }
    }

    private static long Write(RepeatedField<TaxLine> lines, ReadOnlySpan<int> rates, ReadOnlySpan<long> gross, ReadOnlySpan<long> tax)
    {
        long total = 0;
        for (var i = 0; i < rates.Length; i++)
        {
            TaxLine line;
            if (i < lines.Count)
            {
                line = lines[i];
            }
            else
            {
                line = new TaxLine();
                lines.Add(line);
            }

            line.Rate = rates[i];
            line.Gross = gross[i];
            line.Tax = tax[i];
            total += tax[i];
        }

        while (lines.Count > rates.Length)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        return total;
    }
}

using CartActor.Cart.Messages;
using Google.Protobuf.Collections;

namespace CartActor.Cart.Handlers;

/// <summary>
/// ApplyMerge (on the target): takes a frozen source into the target by the mode, once per source: a source
/// already in merged_from changes nothing, so a retry after a crash never adds the lines twice, whatever the
/// keys. What each mode takes (what commercetools and Shopify do when a guest signs in):
/// <list type="bullet">
/// <item>Lines: the source's lines join the target's (quantities summed per sku, capped at the line limit; on a
/// shared sku the target line's attributes win and the source's fill missing keys); cart attributes: the
/// target's win, the source's fill missing keys while there is room; the target's deliveries and vouchers stay
/// and the source's are not taken (the customer chose them on the cart that stays).</item>
/// <item>KeepTarget: nothing; the target only records the source.</item>
/// <item>ReplaceWithSource: the target becomes the source: its lines, its deliveries (naming the copied lines),
/// its vouchers and its cart attributes.</item>
/// </list>
/// </summary>
public sealed class ApplyMergeHandler : MutationHandler<ApplyMerge>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, ApplyMerge m)
    {
        var state = cart.State;
        if (m.SourceId == 0 || m.SourceId == state.Id)
        {
            return MutationOutcome.Fail($"ApplyMerge: source_id {m.SourceId} must be another cart");
        }

        if (state.MergedFrom.Contains(m.SourceId))
        {
            return MutationOutcome.Unchanged;
        }

        if (Validate(m) is { } error)
        {
            return MutationOutcome.Fail(error);
        }

        switch (m.Mode)
        {
            case MergeMode.Lines:
                MergeLines(cart, m);
                break;
            case MergeMode.ReplaceWithSource:
                Replace(cart, m);
                break;
            case MergeMode.KeepTarget:
                break;
            default:
                return MutationOutcome.Fail($"ApplyMerge: unknown mode {(int)m.Mode}");
        }

        state.MergedFrom.Add(m.SourceId);
        return MutationOutcome.Changed;
    }

    private static void MergeLines(CartModel cart, ApplyMerge m)
    {
        var state = cart.State;
        foreach (var line in m.Items)
        {
            var existing = cart.IndexOfSku(line.Sku);
            if (existing >= 0)
            {
                var target = state.Items[existing];
                CartModel.SetQuantity(target, Math.Min(CartLimits.MaxQuantityPerLine, target.Quantity + line.Quantity));
                FillMissing(target.Attributes, line.Attributes);
            }
            else if (state.Items.Count < CartLimits.MaxLines)
            {
                state.Items.Add(Copy(cart, line));
            }
        }

        FillMissing(state.Attributes, m.Attributes);
    }

    private static void Replace(CartModel cart, ApplyMerge m)
    {
        var state = cart.State;
        state.Items.Clear();
        state.Deliveries.Clear();
        state.Vouchers.Clear();
        state.Attributes.Clear();

        // The copied lines get the target's next ids; the deliveries that name source lines follow them.
        var ids = new Dictionary<uint, uint>(m.Items.Count);
        foreach (var line in m.Items)
        {
            var copy = Copy(cart, line);
            ids[line.Id] = copy.Id;
            state.Items.Add(copy);
        }

        foreach (var delivery in m.Deliveries)
        {
            var copy = delivery.Clone();
            copy.Id = cart.TakeDeliveryId();
            copy.Tax = Money.IncludedTax(copy.Price, copy.TaxRate);
            copy.ItemIds.Clear();
            foreach (var itemId in delivery.ItemIds)
            {
                if (ids.TryGetValue(itemId, out var mapped))
                {
                    copy.ItemIds.Add(mapped);
                }
            }

            // An explicit list that named none of the lines would widen to "all items" if kept empty.
            if (delivery.ItemIds.Count == 0 || copy.ItemIds.Count > 0)
            {
                state.Deliveries.Add(copy);
            }
        }

        foreach (var voucher in m.Vouchers)
        {
            state.Vouchers.Add(new Voucher { Id = cart.TakeVoucherId(), Code = voucher.Code, Amount = voucher.Amount });
        }

        FillMissing(state.Attributes, m.Attributes);
    }

    /// <summary>Adds the keys <paramref name="target"/> lacks, in the source's order, while it has room.</summary>
    private static void FillMissing(MapField<string, string> target, MapField<string, string> source)
    {
        foreach (var (key, value) in source)
        {
            if (target.Count >= CartLimits.MaxAttributes)
            {
                return;
            }

            if (value.Length > 0 && !target.ContainsKey(key))
            {
                target[key] = value;
            }
        }
    }

    /// <summary>The source normally comes from a cart that checked it; a client may send ApplyMerge itself.</summary>
    private static string? Validate(ApplyMerge m)
    {
        if (m.Items.Count > CartLimits.MaxLines)
        {
            return $"ApplyMerge: at most {CartLimits.MaxLines} lines can be merged";
        }

        foreach (var line in m.Items)
        {
            if (string.IsNullOrEmpty(line.Sku) || IsTooLong(line.Sku) || IsTooLong(line.Name) || IsTooLong(line.Image)
                || line.UnitPrice is < 0 or > CartLimits.MaxPrice || line.OriginalPrice is < 0 or > CartLimits.MaxPrice
                || line.TaxRate is < 0 or > CartLimits.MaxTaxRate || !WithinLimits(line.Attributes))
            {
                return $"ApplyMerge: line '{(line.Sku.Length > 64 ? line.Sku[..64] : line.Sku)}' breaks the limits of AddItem";
            }
        }

        if (!WithinLimits(m.Attributes))
        {
            return $"ApplyMerge: the cart attributes break the limits of SetCartAttributes ({CartLimits.MaxAttributes} keys)";
        }

        if (m.Deliveries.Count > CartLimits.MaxDeliveries)
        {
            return $"ApplyMerge: at most {CartLimits.MaxDeliveries} deliveries can be merged";
        }

        foreach (var delivery in m.Deliveries)
        {
            if (string.IsNullOrEmpty(delivery.Provider) || IsTooLong(delivery.Provider) || IsTooLong(delivery.PickupPointId)
                || delivery.Price is < 0 or > CartLimits.MaxPrice || delivery.TaxRate is < 0 or > CartLimits.MaxTaxRate)
            {
                return $"ApplyMerge: delivery {delivery.Id} breaks the limits of SetDelivery";
            }
        }

        if (m.Vouchers.Count > CartLimits.MaxVouchers)
        {
            return $"ApplyMerge: at most {CartLimits.MaxVouchers} vouchers can be merged";
        }

        for (var i = 0; i < m.Vouchers.Count; i++)
        {
            var voucher = m.Vouchers[i];
            if (string.IsNullOrEmpty(voucher.Code) || IsTooLong(voucher.Code) || voucher.Amount is < 1 or > CartLimits.MaxPrice)
            {
                return $"ApplyMerge: voucher {voucher.Id} breaks the limits of AddVoucher";
            }

            for (var j = 0; j < i; j++)
            {
                if (m.Vouchers[j].Code == voucher.Code)
                {
                    return $"ApplyMerge: voucher code '{(voucher.Code.Length > 64 ? voucher.Code[..64] : voucher.Code)}' is listed twice";
                }
            }
        }

        return null;
    }

    private static bool WithinLimits(MapField<string, string> attributes)
    {
        if (attributes.Count > CartLimits.MaxAttributes)
        {
            return false;
        }

        foreach (var (key, value) in attributes)
        {
            if (key.Length is 0 or > CartLimits.MaxAttributeKeyLength || value.Length > CartLimits.MaxAttributeValueLength)
            {
                return false;
            }
        }

        return true;
    }

    private static CartItem Copy(CartModel cart, CartItem line)
    {
        var copy = line.Clone();
        copy.Id = cart.TakeItemId();
        CartModel.SetQuantity(copy, Math.Clamp(line.Quantity, 1, CartLimits.MaxQuantityPerLine));
        return copy;
    }
}

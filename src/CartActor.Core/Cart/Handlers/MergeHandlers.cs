using CartActor.Cart.Messages;

namespace CartActor.Cart.Handlers;

/// <summary>BeginMerge (on the source): OPEN or CHECKOUT -> MERGING into the target; repeating it for the same target changes nothing.</summary>
public sealed class BeginMergeHandler : MutationHandler<BeginMerge>
{
    public override bool ReopensCheckout => false;

    public override bool AppliesToMergingSource => true;

    protected override MutationOutcome Apply(CartModel cart, BeginMerge m)
    {
        var state = cart.State;
        if (m.TargetId == 0 || m.TargetId == state.Id)
        {
            return MutationOutcome.Fail($"BeginMerge: target_id {m.TargetId} must be another cart");
        }

        if (state.Status is CartStatus.Merging or CartStatus.Merged)
        {
            return state.MergedInto == m.TargetId
                ? MutationOutcome.Unchanged
                : MutationOutcome.Fail($"BeginMerge: the cart is already {state.Status.ToString().ToUpperInvariant()} into cart {state.MergedInto}");
        }

        state.Status = CartStatus.Merging;
        state.MergedInto = m.TargetId;
        return MutationOutcome.Changed;
    }
}

/// <summary>CompleteMerge (on the source): MERGING -> MERGED, terminal; repeating it changes nothing.</summary>
public sealed class CompleteMergeHandler : MutationHandler<CompleteMerge>
{
    public override bool ReopensCheckout => false;

    public override bool AppliesToMergingSource => true;

    protected override MutationOutcome Apply(CartModel cart, CompleteMerge m)
    {
        var state = cart.State;
        if (state.MergedInto != m.TargetId || state.Status is not (CartStatus.Merging or CartStatus.Merged))
        {
            return MutationOutcome.Fail($"CompleteMerge: the cart is not merging into cart {m.TargetId}");
        }

        if (state.Status == CartStatus.Merged)
        {
            return MutationOutcome.Unchanged;
        }

        state.Status = CartStatus.Merged;
        return MutationOutcome.Changed;
    }
}

/// <summary>AbortMerge (on the source): MERGING -> OPEN when the target refused the merge. A MERGED cart stays merged.</summary>
public sealed class AbortMergeHandler : MutationHandler<AbortMerge>
{
    public override bool ReopensCheckout => false;

    public override bool AppliesToMergingSource => true;

    protected override MutationOutcome Apply(CartModel cart, AbortMerge m)
    {
        var state = cart.State;
        if (state.Status != CartStatus.Merging || state.MergedInto != m.TargetId)
        {
            return MutationOutcome.Fail($"AbortMerge: the cart is not merging into cart {m.TargetId}");
        }

        state.Status = CartStatus.Open;
        state.MergedInto = 0;
        return MutationOutcome.Changed;
    }
}

/// <summary>
/// ApplyMerge (on the target): applies a frozen source's lines by the mode, once per source: a source already
/// in merged_from changes nothing, so a retry after a crash never adds the lines twice, whatever the keys.
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

        if (m.Items.Count > CartLimits.MaxLines)
        {
            return MutationOutcome.Fail($"ApplyMerge: at most {CartLimits.MaxLines} lines can be merged");
        }

        // The lines normally come from a cart that checked them; a client may send ApplyMerge itself.
        foreach (var line in m.Items)
        {
            if (string.IsNullOrEmpty(line.Sku) || IsTooLong(line.Sku) || IsTooLong(line.Name) || IsTooLong(line.Image)
                || line.UnitPrice is < 0 or > CartLimits.MaxPrice || line.OriginalPrice is < 0 or > CartLimits.MaxPrice
                || line.TaxRate is < 0 or > CartLimits.MaxTaxRate || line.Attributes.Count > CartLimits.MaxAttributes)
            {
                return MutationOutcome.Fail($"ApplyMerge: line '{(line.Sku.Length > 64 ? line.Sku[..64] : line.Sku)}' breaks the limits of AddItem");
            }
        }

        switch (m.Mode)
        {
            case MergeMode.Lines:
                foreach (var line in m.Items)
                {
                    var existing = cart.IndexOfSku(line.Sku);
                    if (existing >= 0)
                    {
                        var target = state.Items[existing];
                        CartModel.SetQuantity(target, Math.Min(CartLimits.MaxQuantityPerLine, target.Quantity + line.Quantity));
                    }
                    else if (state.Items.Count < CartLimits.MaxLines)
                    {
                        state.Items.Add(Copy(cart, line));
                    }
                }

                break;
            case MergeMode.ReplaceWithSource:
                while (state.Items.Count > 0)
                {
                    cart.RemoveItemAt(state.Items.Count - 1);
                }

                foreach (var line in m.Items)
                {
                    state.Items.Add(Copy(cart, line));
                }

                break;
            case MergeMode.KeepTarget:
                break;
            default:
                return MutationOutcome.Fail($"ApplyMerge: unknown mode {(int)m.Mode}");
        }

        state.MergedFrom.Add(m.SourceId);
        return MutationOutcome.Changed;
    }

    private static CartItem Copy(CartModel cart, CartItem line)
    {
        var copy = line.Clone();
        copy.Id = cart.TakeItemId();
        CartModel.SetQuantity(copy, Math.Clamp(line.Quantity, 1, CartLimits.MaxQuantityPerLine));
        return copy;
    }
}

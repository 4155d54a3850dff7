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

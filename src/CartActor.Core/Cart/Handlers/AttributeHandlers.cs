using CartActor.Cart.Messages;
using Google.Protobuf.Collections;

namespace CartActor.Cart.Handlers;

/// <summary>SetCartAttributes: sets (an empty value removes) and removes string attributes on the cart.</summary>
public sealed class SetCartAttributesHandler : MutationHandler<SetCartAttributes>
{
    public override bool ReopensCheckout => false;

    protected override MutationOutcome Apply(CartModel cart, SetCartAttributes m) =>
        Attributes.Apply("SetCartAttributes", cart.State.Attributes, m.Attributes, m.Remove);
}

/// <summary>SetItemAttributes: the same on one line.</summary>
public sealed class SetItemAttributesHandler : MutationHandler<SetItemAttributes>
{
    public override bool ReopensCheckout => false;

    protected override MutationOutcome Apply(CartModel cart, SetItemAttributes m)
    {
        var index = cart.IndexOfItem(m.ItemId);
        if (index < 0)
        {
            return MutationOutcome.Fail($"SetItemAttributes: no item with id {m.ItemId} in the cart");
        }

        return Attributes.Apply("SetItemAttributes", cart.State.Items[index].Attributes, m.Attributes, m.Remove);
    }
}

/// <summary>The shared rule: validate everything (key and value sizes, the resulting count), then change.</summary>
internal static class Attributes
{
    public static MutationOutcome Apply(string name, MapField<string, string> target, MapField<string, string> set, RepeatedField<string> remove)
    {
        if (set.Count == 0 && remove.Count == 0)
        {
            return MutationOutcome.Fail($"{name}: nothing to set or remove");
        }

        var count = target.Count;
        foreach (var (key, value) in set)
        {
            if (key.Length is 0 or > CartLimits.MaxAttributeKeyLength)
            {
                return MutationOutcome.Fail($"{name}: attribute keys must be 1..{CartLimits.MaxAttributeKeyLength} characters");
            }

            if (value.Length > CartLimits.MaxAttributeValueLength)
            {
                return MutationOutcome.Fail($"{name}: attribute '{key}' is longer than {CartLimits.MaxAttributeValueLength} characters");
            }

            var present = target.ContainsKey(key);
            if (value.Length == 0 && present)
            {
                count--;
            }
            else if (value.Length > 0 && !present)
            {
                count++;
            }
        }

        foreach (var key in remove)
        {
            if (target.ContainsKey(key) && !set.ContainsKey(key))
            {
                count--;
            }
        }

        if (count > CartLimits.MaxAttributes)
        {
            return MutationOutcome.Fail($"{name}: at most {CartLimits.MaxAttributes} attributes are kept (this would make {count})");
        }

        var changed = false;
        foreach (var key in remove)
        {
            changed |= target.Remove(key);
        }

        foreach (var (key, value) in set)
        {
            if (value.Length == 0)
            {
                changed |= target.Remove(key);
            }
            else if (!target.TryGetValue(key, out var old) || !string.Equals(old, value, StringComparison.Ordinal))
            {
                target[key] = value;
                changed = true;
            }
        }

        return changed ? MutationOutcome.Changed : MutationOutcome.Unchanged;
    }
}

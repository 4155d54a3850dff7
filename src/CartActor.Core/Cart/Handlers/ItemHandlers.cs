using CartActor.Cart.Messages;

namespace CartActor.Cart.Handlers;

/// <summary>AddItem: the same sku grows its line; otherwise a new line with a fresh, never reused id.</summary>
public sealed class AddItemHandler : MutationHandler<AddItem>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, AddItem m)
    {
        if (string.IsNullOrEmpty(m.Sku))
        {
            return MutationOutcome.Fail("AddItem: sku must not be empty");
        }

        if (IsTooLong(m.Sku) || IsTooLong(m.Name) || IsTooLong(m.Image))
        {
            return MutationOutcome.Fail($"AddItem: sku, name and image must be at most {CartLimits.MaxTextLength} characters");
        }

        if (m.Quantity is < 1 or > CartLimits.MaxQuantityPerLine)
        {
            return MutationOutcome.Fail($"AddItem: quantity {m.Quantity} is outside 1..{CartLimits.MaxQuantityPerLine}");
        }

        if (m.UnitPrice is < 0 or > CartLimits.MaxPrice)
        {
            return MutationOutcome.Fail($"AddItem: unit_price {m.UnitPrice} is outside 0..{CartLimits.MaxPrice}");
        }

        if (m.OriginalPrice is < 0 or > CartLimits.MaxPrice)
        {
            return MutationOutcome.Fail($"AddItem: original_price {m.OriginalPrice} is outside 0..{CartLimits.MaxPrice}");
        }

        if (m.TaxRate is < 0 or > CartLimits.MaxTaxRate)
        {
            return MutationOutcome.Fail($"AddItem: tax_rate {m.TaxRate} is outside 0..{CartLimits.MaxTaxRate}");
        }

        var existing = cart.IndexOfSku(m.Sku);
        if (existing >= 0)
        {
            var line = cart.State.Items[existing];
            var grown = line.Quantity + m.Quantity;
            if (grown > CartLimits.MaxQuantityPerLine)
            {
                return MutationOutcome.Fail(
                    $"AddItem: sku '{m.Sku}' would reach quantity {grown}, above the limit of {CartLimits.MaxQuantityPerLine} per line");
            }

            CartModel.SetQuantity(line, grown);
            return MutationOutcome.Changed;
        }

        if (cart.State.Items.Count >= CartLimits.MaxLines)
        {
            return MutationOutcome.Fail($"AddItem: the cart already has the maximum of {CartLimits.MaxLines} lines");
        }

        var item = new CartItem
        {
            Id = cart.TakeItemId(),
            Sku = m.Sku,
            Name = m.Name,
            Image = m.Image,
            UnitPrice = m.UnitPrice,
            OriginalPrice = m.OriginalPrice,
            TaxRate = m.TaxRate,
        };
        CartModel.SetQuantity(item, m.Quantity);
        cart.State.Items.Add(item);
        return MutationOutcome.Changed;
    }
}

/// <summary>RemoveItem: drops a line (and its id from explicit deliveries).</summary>
public sealed class RemoveItemHandler : MutationHandler<RemoveItem>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, RemoveItem m)
    {
        var index = cart.IndexOfItem(m.ItemId);
        if (index < 0)
        {
            return MutationOutcome.Fail($"RemoveItem: no item with id {m.ItemId} in the cart");
        }

        cart.RemoveItemAt(index);
        return MutationOutcome.Changed;
    }
}

/// <summary>ChangeQuantity: sets a line's quantity; 0 removes the line.</summary>
public sealed class ChangeQuantityHandler : MutationHandler<ChangeQuantity>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, ChangeQuantity m)
    {
        if (m.Quantity is < 0 or > CartLimits.MaxQuantityPerLine)
        {
            return MutationOutcome.Fail($"ChangeQuantity: quantity {m.Quantity} is outside 0..{CartLimits.MaxQuantityPerLine}");
        }

        var index = cart.IndexOfItem(m.ItemId);
        if (index < 0)
        {
            return MutationOutcome.Fail($"ChangeQuantity: no item with id {m.ItemId} in the cart");
        }

        if (m.Quantity == 0)
        {
            cart.RemoveItemAt(index);
            return MutationOutcome.Changed;
        }

        var line = cart.State.Items[index];
        if (line.Quantity == m.Quantity)
        {
            return MutationOutcome.Unchanged;
        }

        CartModel.SetQuantity(line, m.Quantity);
        return MutationOutcome.Changed;
    }
}

/// <summary>ClearCart: removes every item, delivery and voucher.</summary>
public sealed class ClearCartHandler : MutationHandler<ClearCart>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, ClearCart m)
    {
        var state = cart.State;
        if (state.Items.Count == 0 && state.Deliveries.Count == 0 && state.Vouchers.Count == 0)
        {
            return MutationOutcome.Unchanged;
        }

        state.Items.Clear();
        state.Deliveries.Clear();
        state.Vouchers.Clear();
        return MutationOutcome.Changed;
    }
}

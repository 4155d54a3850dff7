using CartActor.Cart.Messages;

namespace CartActor.Cart.Handlers;

/// <summary>SetDelivery: adds a delivery for the named items (empty = all items); every named id must exist.</summary>
public sealed class SetDeliveryHandler : MutationHandler<SetDelivery>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, SetDelivery m)
    {
        if (string.IsNullOrEmpty(m.Provider))
        {
            return MutationOutcome.Fail("SetDelivery: provider must not be empty");
        }

        if (IsTooLong(m.Provider) || IsTooLong(m.PickupPointId))
        {
            return MutationOutcome.Fail($"SetDelivery: provider and pickup_point_id must be at most {CartLimits.MaxTextLength} characters");
        }

        if (m.Price is < 0 or > CartLimits.MaxPrice)
        {
            return MutationOutcome.Fail($"SetDelivery: price {m.Price} is outside 0..{CartLimits.MaxPrice}");
        }

        if (m.TaxRate is < 0 or > CartLimits.MaxTaxRate)
        {
            return MutationOutcome.Fail($"SetDelivery: tax_rate {m.TaxRate} is outside 0..{CartLimits.MaxTaxRate}");
        }

        if (cart.State.Items.Count == 0)
        {
            return MutationOutcome.Fail("SetDelivery: the cart has no items to deliver");
        }

        for (var i = 0; i < m.ItemIds.Count; i++)
        {
            var id = m.ItemIds[i];
            if (cart.IndexOfItem(id) < 0)
            {
                return MutationOutcome.Fail($"SetDelivery: no item with id {id} in the cart");
            }

            for (var j = 0; j < i; j++)
            {
                if (m.ItemIds[j] == id)
                {
                    return MutationOutcome.Fail($"SetDelivery: item id {id} is listed twice");
                }
            }
        }

        if (cart.State.Deliveries.Count >= CartLimits.MaxDeliveries)
        {
            return MutationOutcome.Fail($"SetDelivery: the cart already has the maximum of {CartLimits.MaxDeliveries} deliveries");
        }

        var delivery = new Delivery
        {
            Id = cart.TakeDeliveryId(),
            Provider = m.Provider,
            Price = m.Price,
            PickupPointId = m.PickupPointId,
            TaxRate = m.TaxRate,
            Tax = Money.IncludedTax(m.Price, m.TaxRate),
        };
        delivery.ItemIds.Add(m.ItemIds);
        cart.State.Deliveries.Add(delivery);
        return MutationOutcome.Changed;
    }
}

/// <summary>RemoveDelivery: drops a delivery by its id.</summary>
public sealed class RemoveDeliveryHandler : MutationHandler<RemoveDelivery>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, RemoveDelivery m)
    {
        var deliveries = cart.State.Deliveries;
        for (var i = 0; i < deliveries.Count; i++)
        {
            if (deliveries[i].Id == m.DeliveryId)
            {
                deliveries.RemoveAt(i);
                return MutationOutcome.Changed;
            }
        }

        return MutationOutcome.Fail($"RemoveDelivery: no delivery with id {m.DeliveryId} in the cart");
    }
}

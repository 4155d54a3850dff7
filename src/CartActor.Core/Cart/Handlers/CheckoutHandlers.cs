using CartActor.Cart.Messages;

namespace CartActor.Cart.Handlers;

/// <summary>BeginCheckout: OPEN -> CHECKOUT, never on an empty cart.</summary>
public sealed class BeginCheckoutHandler : MutationHandler<BeginCheckout>
{
    public override bool ReopensCheckout => false;

    protected override MutationOutcome Apply(CartModel cart, BeginCheckout m)
    {
        if (cart.State.Status != CartStatus.Open)
        {
            return MutationOutcome.Fail($"BeginCheckout: the cart is {cart.State.Status.ToString().ToUpperInvariant()}, not OPEN");
        }

        if (cart.State.Items.Count == 0)
        {
            return MutationOutcome.Fail("BeginCheckout: the cart is empty");
        }

        cart.State.Status = CartStatus.Checkout;
        return MutationOutcome.Changed;
    }
}

/// <summary>CompleteOrder: CHECKOUT -> ORDERED with the order reference; an ORDERED cart is final.</summary>
public sealed class CompleteOrderHandler : MutationHandler<CompleteOrder>
{
    public override bool ReopensCheckout => false;

    protected override MutationOutcome Apply(CartModel cart, CompleteOrder m)
    {
        if (cart.State.Status != CartStatus.Checkout)
        {
            return MutationOutcome.Fail($"CompleteOrder: the cart is {cart.State.Status.ToString().ToUpperInvariant()}, not CHECKOUT");
        }

        if (string.IsNullOrEmpty(m.OrderReference))
        {
            return MutationOutcome.Fail("CompleteOrder: order_reference must not be empty");
        }

        if (IsTooLong(m.OrderReference))
        {
            return MutationOutcome.Fail($"CompleteOrder: order_reference must be at most {CartLimits.MaxTextLength} characters");
        }

        cart.State.Status = CartStatus.Ordered;
        cart.State.OrderReference = m.OrderReference;
        return MutationOutcome.Changed;
    }
}

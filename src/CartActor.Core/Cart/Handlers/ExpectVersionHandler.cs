using CartActor.Cart.Messages;

namespace CartActor.Cart.Handlers;

/// <summary>
/// ExpectVersion: a precondition, not a change. Before anything in its batch has changed the cart, a
/// mismatch aborts the whole batch (the grain turns it into ABORTED); after a change it is refused like any
/// mutation. Runs in the cart's mailbox, so the check and the apply that follows are one step.
/// </summary>
public sealed class ExpectVersionHandler : MutationHandler<ExpectVersion>
{
    public override bool ReopensCheckout => false;

    protected override MutationOutcome Apply(CartModel cart, ExpectVersion m) =>
        cart.State.Version == m.Version
            ? MutationOutcome.Unchanged
            : MutationOutcome.Abort($"cart {cart.State.Id} is at version {cart.State.Version}, not the expected {m.Version}; nothing was applied");
}

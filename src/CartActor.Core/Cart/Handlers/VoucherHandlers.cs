using CartActor.Cart.Messages;

namespace CartActor.Cart.Handlers;

/// <summary>AddVoucher: a positive amount; a code may be used once per cart.</summary>
public sealed class AddVoucherHandler : MutationHandler<AddVoucher>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, AddVoucher m)
    {
        if (string.IsNullOrEmpty(m.Code))
        {
            return MutationOutcome.Fail("AddVoucher: code must not be empty");
        }

        if (IsTooLong(m.Code))
        {
            return MutationOutcome.Fail($"AddVoucher: code must be at most {CartLimits.MaxTextLength} characters");
        }

        if (m.Amount is <= 0 or > CartLimits.MaxPrice)
        {
            return MutationOutcome.Fail($"AddVoucher: amount {m.Amount} is outside 1..{CartLimits.MaxPrice}");
        }

        var vouchers = cart.State.Vouchers;
        foreach (var voucher in vouchers)
        {
            if (string.Equals(voucher.Code, m.Code, StringComparison.Ordinal))
            {
                return MutationOutcome.Fail($"AddVoucher: code '{m.Code}' is already applied to the cart");
            }
        }

        if (vouchers.Count >= CartLimits.MaxVouchers)
        {
            return MutationOutcome.Fail($"AddVoucher: the cart already has the maximum of {CartLimits.MaxVouchers} vouchers");
        }

        vouchers.Add(new Voucher { Id = cart.TakeVoucherId(), Code = m.Code, Amount = m.Amount });
        return MutationOutcome.Changed;
    }
}

/// <summary>RemoveVoucher: drops a voucher by its id.</summary>
public sealed class RemoveVoucherHandler : MutationHandler<RemoveVoucher>
{
    public override bool ReopensCheckout => true;

    protected override MutationOutcome Apply(CartModel cart, RemoveVoucher m)
    {
        var vouchers = cart.State.Vouchers;
        for (var i = 0; i < vouchers.Count; i++)
        {
            if (vouchers[i].Id == m.VoucherId)
            {
                vouchers.RemoveAt(i);
                return MutationOutcome.Changed;
            }
        }

        return MutationOutcome.Fail($"RemoveVoucher: no voucher with id {m.VoucherId} in the cart");
    }
}

using CartActor.Cart.Messages;

namespace CartActor.Cart;

/// <summary>
/// The domain view of one cart: its durable <see cref="CartRecord"/> plus the rules every handler shares
/// (id allocation, lookups, totals). Owned by exactly one grain; only the cart's mailbox shard touches it,
/// so nothing here is thread-safe and nothing needs to be.
/// </summary>
public sealed class CartModel
{
    public CartModel(CartRecord record)
    {
        Record = record;
    }

    public CartRecord Record { get; }

    public CartState State => Record.State;

    public static CartModel CreateEmpty(ulong id, string currency) =>
        new(new CartRecord
        {
            State = new CartState { Id = id, Currency = currency, Status = CartStatus.Open },
            NextItemId = 1,
            NextDeliveryId = 1,
            NextVoucherId = 1,
        });

    public uint TakeItemId() => Record.NextItemId++;

    public uint TakeDeliveryId() => Record.NextDeliveryId++;

    public uint TakeVoucherId() => Record.NextVoucherId++;

    public int IndexOfItem(uint itemId)
    {
        var items = State.Items;
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Id == itemId)
            {
                return i;
            }
        }

        return -1;
    }

    public int IndexOfSku(string sku)
    {
        var items = State.Items;
        for (var i = 0; i < items.Count; i++)
        {
            if (string.Equals(items[i].Sku, sku, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Sets a line's quantity and the derived line_total and line_tax.</summary>
    public static void SetQuantity(CartItem item, int quantity)
    {
        item.Quantity = quantity;
        item.LineTotal = item.UnitPrice * quantity;
        item.LineTax = Money.IncludedTax(item.LineTotal, item.TaxRate);
    }

    /// <summary>
    /// Removes a line and its id from every delivery that names it explicitly; a delivery whose explicit
    /// list empties goes too, because an empty list would silently widen it to "all items".
    /// </summary>
    public void RemoveItemAt(int index)
    {
        var itemId = State.Items[index].Id;
        State.Items.RemoveAt(index);
        var deliveries = State.Deliveries;
        for (var d = deliveries.Count - 1; d >= 0; d--)
        {
            var ids = deliveries[d].ItemIds;
            if (ids.Count == 0)
            {
                continue;
            }

            ids.Remove(itemId);
            if (ids.Count == 0)
            {
                deliveries.RemoveAt(d);
            }
        }
    }

    /// <summary>
    /// total_price = items + deliveries - vouchers (never below 0); total_tax = the VAT of the items and
    /// deliveries less the VAT contained in the vouchers, split over the rates by their share of the gross
    /// (<see cref="TaxBreakdown"/>, which also writes tax_lines); total_discount = line discounts + the
    /// voucher amount actually applied.
    /// </summary>
    public void RecomputeTotals()
    {
        var state = State;
        long items = 0, lineDiscount = 0;
        // Index loops, not foreach: RepeatedField's enumerator is a boxed IEnumerator (40 B per loop, on every Apply).
        var itemList = state.Items;
        for (var i = 0; i < itemList.Count; i++)
        {
            var item = itemList[i];
            items += item.LineTotal;
            if (item.OriginalPrice > item.UnitPrice)
            {
                lineDiscount += (item.OriginalPrice - item.UnitPrice) * item.Quantity;
            }
        }

        long deliveries = 0;
        var deliveryList = state.Deliveries;
        for (var i = 0; i < deliveryList.Count; i++)
        {
            deliveries += deliveryList[i].Price;
        }

        long vouchers = 0;
        var voucherList = state.Vouchers;
        for (var i = 0; i < voucherList.Count; i++)
        {
            vouchers += voucherList[i].Amount;
        }

        var gross = items + deliveries;
        var applied = Math.Min(vouchers, gross);
        state.TotalPrice = gross - applied;
        state.TotalTax = TaxBreakdown.Compute(state, applied);
        state.TotalDiscount = lineDiscount + applied;
    }
}

using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Node.Tests;

/// <summary>Cart ids, mutations and the invariants every CartState a node returns must satisfy.</summary>
internal static class Carts
{
    // Random base: ids never collide between tests sharing a node, nor with a previous run's carts.
    private static long s_next = Random.Shared.NextInt64(1L << 20, 1L << 40);

    public static ulong NewId() => (ulong)Interlocked.Increment(ref s_next);

    public static AddItem Item(string sku, int quantity = 1, long unitPrice = 1_000, int taxRate = 2_500) =>
        new() { Sku = sku, Name = "name of " + sku, Quantity = quantity, UnitPrice = unitPrice, OriginalPrice = unitPrice, TaxRate = taxRate };

    public static ApplyRequest Apply(ulong id, params IMessage[] mutations)
    {
        var request = new ApplyRequest { Id = id };
        foreach (var mutation in mutations)
        {
            request.Messages.Add(Any.Pack(mutation));
        }

        return request;
    }

    public static CartState State(ApplyResult result) => Unpack(result.State);

    public static CartState State(GetReply reply) => Unpack(reply.Grain);

    private static CartState Unpack(Any any)
    {
        Assert.NotNull(any);
        Assert.Equal("type.googleapis.com/cart_messages.CartState", any.TypeUrl);
        return any.Unpack<CartState>();
    }

    /// <summary>
    /// The state is that of <paramref name="id"/> and its derived fields agree with its lines: a reply built
    /// from a buffer that another reply reused would break one of these.
    /// </summary>
    public static void AssertConsistent(CartState state, ulong id)
    {
        Assert.Equal(id, state.Id);
        Assert.Equal("EUR", state.Currency);
        long total = 0, tax = 0, discount = 0;
        var ids = new HashSet<uint>();
        foreach (var item in state.Items)
        {
            Assert.True(ids.Add(item.Id), $"cart {id}: line id {item.Id} appears twice");
            Assert.StartsWith("sku-", item.Sku, StringComparison.Ordinal);
            Assert.Equal("name of " + item.Sku, item.Name);
            Assert.InRange(item.Quantity, 1, int.MaxValue);
            Assert.Equal(item.UnitPrice * item.Quantity, item.LineTotal);
            total += item.LineTotal;
            tax += item.LineTax;
            discount += Math.Max(0, item.OriginalPrice - item.UnitPrice) * item.Quantity;
        }

        foreach (var delivery in state.Deliveries)
        {
            total += delivery.Price;
            tax += delivery.Tax;
        }

        var vouchers = state.Vouchers.Sum(v => v.Amount);
        var applied = Math.Min(vouchers, total);
        Assert.Equal(total - applied, state.TotalPrice);
        if (applied == 0)
        {
            Assert.Equal(tax, state.TotalTax); // vouchers lower the VAT (README, "VAT"); without them it is the lines' sum
        }

        Assert.Equal(state.TotalTax, state.TaxLines.Sum(line => line.Tax));
        Assert.Equal(state.TotalPrice, state.TaxLines.Sum(line => line.Gross));
        Assert.Equal(discount + applied, state.TotalDiscount);
    }
}

internal static class ApplyRequestExtensions
{
    public static ApplyRequest WithMore(this ApplyRequest request, IEnumerable<IMessage> mutations)
    {
        foreach (var mutation in mutations)
        {
            request.Messages.Add(Any.Pack(mutation));
        }

        return request;
    }
}

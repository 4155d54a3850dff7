using CartActor.Cart.Messages;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>Records and mutations for the Redis store tests.</summary>
internal static class RedisRecords
{
    /// <summary>A cart record at <paramref name="version"/> holding one line per sku.</summary>
    public static CartRecord Cart(ulong cartId, ulong version, params string[] skus)
    {
        var state = new CartState { Id = cartId, Version = version, Currency = "EUR" };
        uint nextItemId = 1;
        foreach (var sku in skus)
        {
            state.Items.Add(new CartItem { Id = nextItemId++, Sku = sku, Quantity = 1, UnitPrice = 1000, LineTotal = 1000, TaxRate = 2500 });
        }

        return new CartRecord { State = state, NextItemId = nextItemId, NextDeliveryId = 1, NextVoucherId = 1 };
    }

    public static Any AddItem(string sku) =>
        Any.Pack(new AddItem { Sku = sku, Quantity = 1, UnitPrice = 1000, TaxRate = 2500 });
}

using Google.Protobuf.WellKnownTypes;

namespace CartActor.Core.Tests.Support;

/// <summary>Packs each cart mutation into the <see cref="Any"/> a client sends, with test-friendly defaults.</summary>
internal static class Mutations
{
    public const string TypeUrlPrefix = "type.googleapis.com/cart_messages.";

    public static Any AddItem(
        string sku,
        int quantity = 1,
        long unitPrice = 1000,
        int taxRate = 2500,
        long originalPrice = 0,
        string name = "",
        string image = "") =>
        Any.Pack(new AddItem
        {
            Sku = sku,
            Quantity = quantity,
            UnitPrice = unitPrice,
            TaxRate = taxRate,
            OriginalPrice = originalPrice,
            Name = name,
            Image = image,
        });

    public static Any RemoveItem(uint itemId) => Any.Pack(new RemoveItem { ItemId = itemId });

    public static Any ChangeQuantity(uint itemId, int quantity) => Any.Pack(new ChangeQuantity { ItemId = itemId, Quantity = quantity });

    public static Any ClearCart() => Any.Pack(new ClearCart());

    public static Any SetDelivery(string provider, long price, params uint[] itemIds)
    {
        var delivery = new SetDelivery { Provider = provider, Price = price };
        delivery.ItemIds.Add(itemIds);
        return Any.Pack(delivery);
    }

    public static Any SetPickupDelivery(string provider, long price, string pickupPointId) =>
        Any.Pack(new SetDelivery { Provider = provider, Price = price, PickupPointId = pickupPointId });

    public static Any RemoveDelivery(uint deliveryId) => Any.Pack(new RemoveDelivery { DeliveryId = deliveryId });

    public static Any AddVoucher(string code, long amount) => Any.Pack(new AddVoucher { Code = code, Amount = amount });

    public static Any RemoveVoucher(uint voucherId) => Any.Pack(new RemoveVoucher { VoucherId = voucherId });

    public static Any BeginCheckout() => Any.Pack(new BeginCheckout());

    public static Any CompleteOrder(string orderReference) => Any.Pack(new CompleteOrder { OrderReference = orderReference });
}

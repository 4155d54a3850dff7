using CartActor.Cart.Messages;
using Google.Protobuf;

namespace CartActor.Persistence.Tests.Support;

/// <summary>Cart records as the runtime writes them: state, id counters and an idempotency window.</summary>
internal static class Records
{
    public static CartRecord Cart(ulong cartId, ulong version = 1, long updatedAtUnixMs = 1_700_000_000_000, int items = 1, int idempotencyKeys = 1)
    {
        var state = new CartState
        {
            Id = cartId,
            Currency = "EUR",
            Version = version,
            UpdatedAtUnixMs = updatedAtUnixMs,
        };
        for (var i = 1; i <= items; i++)
        {
            state.Items.Add(new CartItem
            {
                Id = (uint)i,
                Sku = $"sku-{cartId}-{i}",
                Name = "Ceramic mug, 350 ml",
                Quantity = i,
                UnitPrice = 1_250,
                TaxRate = 2_500,
                LineTotal = 1_250L * i,
                LineTax = 250L * i,
            });
        }

        state.TotalPrice = state.Items.Sum(item => item.LineTotal);
        state.TotalTax = state.Items.Sum(item => item.LineTax);
        var record = new CartRecord { State = state, NextItemId = (uint)items + 1, NextDeliveryId = 1, NextVoucherId = 1 };
        for (var k = 0; k < idempotencyKeys; k++)
        {
            record.Idempotency.Add(new IdempotencyEntry { Key = $"key-{cartId}-{k}", Result = ByteString.CopyFrom((byte)k, 0xFE, 0x01) });
        }

        return record;
    }

    public static CartWrite Write(CartRecord record) => new(record.State.Id, record, ExpectedVersion: record.State.Version - 1);
}

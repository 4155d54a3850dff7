using System.Buffers.Binary;
using CartActor.Cart.Messages;
using Google.Protobuf;
using RocksDbSharp;

namespace CartActor.Persistence.RocksDb;

/// <summary>Reads: one record by key, checked and parsed.</summary>
public sealed partial class RocksDbCartStore
{
    public CartRecord? Load(ulong cartId)
    {
        Span<byte> key = stackalloc byte[KeySize];
        BinaryPrimitives.WriteUInt64BigEndian(key, cartId);
        byte[]? value;
        _gate.EnterReadLock();
        try
        {
            value = Db().Get(key);
        }
        catch (RocksDbException ex)
        {
            throw Unavailable($"cart {cartId}: reading its record", ex);
        }
        finally
        {
            _gate.ExitReadLock();
        }

        return value is null ? null : Decode(cartId, value);
    }

    private CartRecord Decode(ulong cartId, byte[] value)
    {
        var problem = RecordEnvelope.Check(value, out _, out var payload);
        if (problem is not null)
        {
            throw Corrupt(cartId, problem, inner: null);
        }

        try
        {
            return CartRecord.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw Corrupt(cartId, $"the record does not parse: {ex.Message}", ex);
        }
    }
}

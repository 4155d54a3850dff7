using System.Buffers.Binary;
using RocksDbSharp;
using NativeDb = RocksDbSharp.RocksDb;

namespace CartActor.Persistence.Tests.Support;

/// <summary>Reads and writes a store's directory underneath the store (which must be closed), the way a bad disk or a bad tool would.</summary>
internal static class RawRocksDb
{
    public static byte[] Key(ulong cartId)
    {
        var key = new byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64BigEndian(key, cartId);
        return key;
    }

    public static void Put(string path, ulong cartId, byte[] value)
    {
        using var db = NativeDb.Open(new DbOptions(), path);
        db.Put(Key(cartId), value, null, new WriteOptions().SetSync(true));
    }

    public static byte[]? Get(string path, ulong cartId)
    {
        using var db = NativeDb.Open(new DbOptions(), path);
        return db.Get(Key(cartId));
    }

    public static List<byte[]> Keys(string path)
    {
        using var db = NativeDb.Open(new DbOptions(), path);
        using var iterator = db.NewIterator();
        var keys = new List<byte[]>();
        for (iterator.SeekToFirst(); iterator.Valid(); iterator.Next())
        {
            keys.Add(iterator.Key());
        }

        return keys;
    }
}

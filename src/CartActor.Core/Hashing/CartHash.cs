using System.Buffers.Binary;
using System.IO.Hashing;

namespace CartActor.Hashing;

/// <summary>xxHash64 of a cart id, with a seed per use so shard choice and ring placement stay independent.</summary>
public static class CartHash
{
    public const long ShardSeed = 0x5348_4152_4453_2121;   // "SHARDS!!"
    public const long RingSeed = 0x5249_4E47_5249_4E47;    // "RINGRING"

    public static ulong Hash(ulong cartId, long seed)
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, cartId);
        return XxHash64.HashToUInt64(bytes, seed);
    }
}

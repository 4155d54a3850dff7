using CartActor.Persistence.RocksDb;
using CartActor.Tests.Shared.Redis;

namespace CartActor.Persistence.Tests.Support;

/// <summary>The stores a contract test runs against, by the name its theory data gives: the embedded store in each durability mode, and Redis.</summary>
internal static class StoreKinds
{
    public const string RocksDbFsync = "rocksdb-fsync";
    public const string RocksDbOs = "rocksdb-os";
    public const string Redis = "redis";

    /// <summary>Opens the store <paramref name="kind"/> names: RocksDB in <paramref name="path"/>, or a fresh key prefix on <paramref name="redis"/>.</summary>
    public static ICartStore Open(string kind, string path, RedisServerFixture redis) => kind switch
    {
        RocksDbFsync => RocksDbCartStore.Open(new RocksDbStoreOptions { Path = path, Mode = DurabilityMode.Fsync }),
        RocksDbOs => RocksDbCartStore.Open(new RocksDbStoreOptions { Path = path, Mode = DurabilityMode.Os }),
        Redis => redis.CreateStore(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no such store kind"),
    };
}

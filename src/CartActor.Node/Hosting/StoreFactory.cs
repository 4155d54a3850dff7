using CartActor.Persistence;
using CartActor.Persistence.Redis;
using CartActor.Persistence.RocksDb;

namespace CartActor.Node.Hosting;

/// <summary>Opens the store the settings name. Opening happens at start-up, so a locked or unwritable data directory stops the node with one line.</summary>
internal static class StoreFactory
{
    public static bool IsKnownStore(string store) =>
        store is "rocksdb" or "memory" || store.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || store.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase);

    public static ICartStore? Open(NodeOptions options, RedisOptions? redis = null)
    {
        var mode = options.Durability == "os" ? DurabilityMode.Os : DurabilityMode.Fsync;
        try
        {
            return options.Store switch
            {
                "memory" => null,
                "rocksdb" => RocksDbCartStore.Open(new RocksDbStoreOptions
                {
                    Path = options.DataDir,
                    Mode = mode,
                    GroupCommitDelay = TimeSpan.FromMicroseconds(options.GroupCommitDelayMicroseconds),
                }),
                _ => RedisCartStore.Connect(new RedisStoreOptions { ConnectionString = options.Store, Retention = options.Retention, WaitReplicas = redis?.WaitReplicas ?? 0 }),
            };
        }
        catch (Exception ex) when (ex is CartStoreException or ArgumentException or IOException)
        {
            throw new NodeConfigurationException($"Node:Store '{options.Store}' (--store, --data-dir {options.DataDir}) cannot be opened: {ex.Message}");
        }
    }
}

/// <summary>Owns the opened store (or none) so the container closes it after the runtime has stopped.</summary>
internal sealed class StoreHolder(ICartStore? store) : IDisposable
{
    public ICartStore? Store { get; } = store;

    public void Dispose() => Store?.Dispose();
}

using CartActor.Persistence;
using CartActor.Persistence.Redis;
using CartActor.Persistence.RocksDb;

namespace CartActor.Node.Hosting;

/// <summary>Opens the store the settings name. Opening happens at start-up, so a locked or unwritable data directory stops the node with one line.</summary>
internal static class StoreFactory
{
    public static bool IsKnownStore(string store) =>
        store is "rocksdb" or "memory" || store.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || store.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A --store value as an error or log line may repeat it: a Redis URI with its endpoints and options only (never
    /// the user-info or a password= option); an unknown value that may hold a secret (an '@' or a password/pwd option,
    /// say a mistyped scheme) not at all; anything else as given, so an operator sees the typo.
    /// </summary>
    public static string Describe(string store)
    {
        if (store is "rocksdb" or "memory")
        {
            return store;
        }

        if (IsKnownStore(store))
        {
            return RedisConfiguration.Describe(store);
        }

        return store.Contains('@', StringComparison.Ordinal)
            || store.Contains("password", StringComparison.OrdinalIgnoreCase)
            || store.Contains("pwd", StringComparison.OrdinalIgnoreCase)
            ? "(not shown: it may hold a password)"
            : store;
    }

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
            throw new NodeConfigurationException($"Node:Store '{Describe(options.Store)}' (--store, --data-dir {options.DataDir}) cannot be opened: {ex.Message}");
        }
    }
}

/// <summary>Owns the opened store (or none) so the container closes it after the runtime has stopped.</summary>
internal sealed class StoreHolder(ICartStore? store) : IDisposable
{
    public ICartStore? Store { get; } = store;

    public void Dispose() => Store?.Dispose();
}

namespace CartActor.Persistence.RocksDb;

/// <summary>Where the embedded store lives and how hard each write is pushed to disk.</summary>
public sealed class RocksDbStoreOptions
{
    /// <summary>The store's directory; created when missing. One process at a time may open it. Default "./data".</summary>
    public string Path { get; set; } = "./data";

    /// <summary>
    /// <see cref="DurabilityMode.Fsync"/> syncs the write-ahead log before a write returns;
    /// <see cref="DurabilityMode.Os"/> leaves it in the page cache. Default <see cref="DurabilityMode.Fsync"/>.
    /// </summary>
    public DurabilityMode Mode { get; set; } = DurabilityMode.Fsync;
}

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

    /// <summary>
    /// <see cref="DurabilityMode.Fsync"/> only: the longest a sync waits for batches the previous sync predicts (it
    /// carried more than are ready), so that they share it; half the recent sync time when that is shorter. A lone
    /// writer never waits. <see cref="TimeSpan.Zero"/> turns the dwell off. At most 1 ms. Default 200 µs.
    /// </summary>
    public TimeSpan GroupCommitDelay { get; set; } = DefaultGroupCommitDelay;

    /// <summary>The default <see cref="GroupCommitDelay"/>.</summary>
    public static readonly TimeSpan DefaultGroupCommitDelay = TimeSpan.FromMicroseconds(200);

    /// <summary>The largest <see cref="GroupCommitDelay"/> accepted.</summary>
    public static readonly TimeSpan MaxGroupCommitDelay = TimeSpan.FromMilliseconds(1);
}

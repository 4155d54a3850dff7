namespace CartActor.Persistence;

/// <summary>What an acknowledged write survives. Shared by every store that can choose (RocksDB, Redis).</summary>
public enum DurabilityMode
{
    /// <summary>The write is synced to stable storage before it is acknowledged: it survives power loss.</summary>
    Fsync,

    /// <summary>
    /// The write is handed to the operating system (page cache) before it is acknowledged: it survives a
    /// crash of the process, not of the machine.
    /// </summary>
    Os,
}

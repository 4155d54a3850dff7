namespace CartActor;

/// <summary>Settings of the in-process cart runtime. Defaults suit one node on a small machine.</summary>
public sealed class CartRuntimeOptions
{
    /// <summary>Mailbox shards; a cart belongs to one by its hash. Default: 4 x processor count.</summary>
    public int ShardCount { get; set; } = Environment.ProcessorCount * 4;

    /// <summary>Work items a busy shard may queue before it refuses new ones as overloaded.</summary>
    public int MaxQueueDepthPerShard { get; set; } = 1024;

    /// <summary>Queued items one shard runs in a row before it yields its thread.</summary>
    public int ShardWorkBudget { get; set; } = 64;

    /// <summary>
    /// Store writes one shard keeps in flight (pipelined write-through): the next pass applies in memory while
    /// earlier passes' writes are on their way; answers still wait for their own and every earlier write.
    /// Default 1 (one write in flight; the next pass is built meanwhile): with 4, the full Cluster suite's
    /// 10,000-cart test timed out synchronous Redis loads (2 s) in 2 of 2 runs on the 2-core CI machine and passed
    /// with 1, and no quiet measurement has shown the larger window faster. Raise it only after measuring.
    /// </summary>
    public int MaxWritesInFlightPerShard { get; set; } = 1;

    /// <summary>A cart untouched for this long is evicted from memory.</summary>
    public TimeSpan IdleTtl { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How often idle carts are looked for.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Live carts on this node; above it the least recently used cart of the shard is evicted.</summary>
    public int MaxActiveCarts { get; set; } = 1_000_000;

    /// <summary>
    /// Mutations accepted in one Apply. Default 400: twice <see cref="Cart.CartLimits.MaxLines"/>, so that one
    /// batch can fill a cart (and, say, clear it and set a delivery as well).
    /// </summary>
    public int MaxMutationsPerApply { get; set; } = 2 * Cart.CartLimits.MaxLines;

    /// <summary>Idempotency keys remembered per cart.</summary>
    public int IdempotencyWindow { get; set; } = 128;

    /// <summary>
    /// Bytes of idempotency entries kept per cart (oldest dropped first). Default 128 KiB: room for the largest
    /// single entry (400 refused mutations with 256-character errors, about 105 KiB), while a record stays far
    /// below what a peer accepts in one message.
    /// </summary>
    public int IdempotencyWindowBytes { get; set; } = 128 * 1024;

    /// <summary>Longest idempotency key accepted.</summary>
    public int MaxIdempotencyKeyLength { get; set; } = 128;

    /// <summary>Currency of new carts (ISO 4217).</summary>
    public string Currency { get; set; } = "EUR";

    /// <summary>
    /// When a settled pass answers several Applies, run their callers' continuations inline, one after another, on
    /// one thread-pool item (<see cref="Mailboxes.PassAnswers"/>) instead of one pool dispatch each (about a third
    /// of a µs per Apply under perfmatrix's shape with <c>--durability os</c>). Safe only for callers whose
    /// continuations never block on another Apply: one that waits synchronously for an Apply answered later in the
    /// same pass would wait for ever, as that answer is delivered by the thread it blocks. The node sets it for its
    /// gRPC endpoint (its only caller, asynchronous throughout); not a setting, and off for every other host.
    /// </summary>
    internal bool InlinePassAnswers { get; set; }

    /// <summary>Returns the first problem with these settings, naming the setting, or null.</summary>
    public string? Validate()
    {
        if (ShardCount is < 1 or > 4096) return $"ShardCount must be 1..4096 (was {ShardCount})";
        if (MaxQueueDepthPerShard is < 1 or > 1_000_000) return $"MaxQueueDepthPerShard must be 1..1000000 (was {MaxQueueDepthPerShard})";
        if (ShardWorkBudget < 1) return $"ShardWorkBudget must be at least 1 (was {ShardWorkBudget})";
        if (MaxWritesInFlightPerShard is < 1 or > 64) return $"MaxWritesInFlightPerShard must be 1..64 (was {MaxWritesInFlightPerShard})";
        if (IdleTtl <= TimeSpan.Zero) return $"IdleTtl must be positive (was {IdleTtl})";
        if (SweepInterval <= TimeSpan.Zero) return $"SweepInterval must be positive (was {SweepInterval})";
        if (MaxActiveCarts < 1) return $"MaxActiveCarts must be at least 1 (was {MaxActiveCarts})";
        if (MaxMutationsPerApply < 1) return $"MaxMutationsPerApply must be at least 1 (was {MaxMutationsPerApply})";
        if (IdempotencyWindow is < 1 or > 10_000) return $"IdempotencyWindow must be 1..10000 (was {IdempotencyWindow})";
        if (IdempotencyWindowBytes is < 16 * 1024 or > 64 * 1024 * 1024) return $"IdempotencyWindowBytes must be 16384..67108864 (was {IdempotencyWindowBytes})";
        if (MaxIdempotencyKeyLength < 1) return $"MaxIdempotencyKeyLength must be at least 1 (was {MaxIdempotencyKeyLength})";
        if (string.IsNullOrWhiteSpace(Currency)) return "Currency must not be empty";
        return null;
    }
}

namespace CartActor.Persistence.Redis;

/// <summary>Settings of the shared Redis cart store. Plain values; <see cref="RedisCartStore.Connect"/> validates them.</summary>
public sealed class RedisStoreOptions
{
    /// <summary>
    /// Where Redis is: <c>redis://[user:password@]host[:port][/db]</c> (<c>rediss://</c> for TLS), or a
    /// StackExchange.Redis configuration string such as <c>host:port</c> or <c>host:port,password=secret</c>.
    /// Default <c>localhost:6379</c>.
    /// </summary>
    public string ConnectionString { get; set; } = "localhost:6379";

    /// <summary>
    /// How long a cart lives after its last write. Every write resets the key's expiry to this, so Redis
    /// itself is the retention sweep. Default 30 days.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Prefix of every cart key; the key is the prefix and the decimal cart id. Default <c>cart:</c>.</summary>
    public string KeyPrefix { get; set; } = "cart:";

    /// <summary>
    /// Connect, synchronous (a load on a shard thread) and asynchronous (a batch write) timeout. A request
    /// that hits it answers StoreUnavailable, so it bounds how long a caller waits on a sick Redis. Default 2 s.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Replicas that must confirm each batch (Redis <c>WAIT</c> after the batch's writes, and after a load,
    /// on the same connection) before anything it holds is acknowledged; fewer within half of
    /// <see cref="Timeout"/> fails the batch as a store failure whose outcome is unknown (the node re-applies
    /// with the batch's idempotency keys). 0 (the default) waits for none. For standalone and Sentinel
    /// deployments: on Redis Cluster the WAIT reaches one master, not every master a batch wrote to.
    /// </summary>
    public int WaitReplicas { get; set; }

    /// <summary>The first problem with these settings, or null when they are usable.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            return "the Redis connection string must not be empty";
        }

        if (Retention < TimeSpan.FromSeconds(1))
        {
            return $"Redis retention must be at least 1 s (was {Retention})";
        }

        if (string.IsNullOrEmpty(KeyPrefix))
        {
            return "the Redis key prefix must not be empty (cart keys would collide with anything else in the database)";
        }

        if (Timeout < TimeSpan.FromMilliseconds(1) || Timeout > TimeSpan.FromMinutes(5))
        {
            return $"the Redis timeout must be between 1 ms and 5 min (was {Timeout})";
        }

        if (WaitReplicas is < 0 or > 64)
        {
            return $"the Redis replicas to wait for must be 0..64 (was {WaitReplicas})";
        }

        return null;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using CartActor.Cart.Messages;
using Google.Protobuf;
using StackExchange.Redis;

namespace CartActor.Persistence.Redis;

/// <summary>
/// The shared cart store for clusters: every node reads and writes the same Redis. Each cart is one hash,
/// <c>{KeyPrefix}{cartId}</c>, with field <c>v</c> (the record's version, decimal), field <c>r</c> (the
/// <see cref="CartRecord"/> protobuf) and field <c>w</c> (the tag of the writer that stored it, decimal). Writes are compare-and-set on <c>v</c> in one Lua script, so two
/// nodes that both believe they own a cart cannot fork it: the second writer's stale version is refused and
/// its id comes back as a conflict. Every write resets the key's expiry to the retention, so Redis itself
/// deletes carts untouched for that long. Owns its connection; thread-safe (every shard calls it at once).
/// </summary>
public sealed class RedisCartStore : ICartStore
{
    /// <summary>
    /// One compare-and-set per cart of a batch, all in one script call: KEYS[i] the i-th cart's key; ARGV[1] the
    /// retention in milliseconds; then five values per cart, from ARGV[2 + 5(i-1)]: the version the writer based
    /// its record on ("0": the cart must be new), the record's version, the record, the writer's tag (field
    /// <c>w</c>), the tag the stored record must carry ("0": any). Returns one integer per key, in order: 1
    /// written, 0 the stored version (or tag) differs (conflict), -1 the key is not a cart record.
    /// Versions are compared as the decimal strings they are stored as: Lua numbers are doubles and would
    /// round a uint64. A missing key counts as version 0, so a cart once written at version 0 (an untouched
    /// cart handed over) can still be written by a writer that loaded it at 0. The tag chains a pipelined
    /// write on its writer's previous one: if that one lost its compare-and-set, another node may have stored
    /// the very version number it expects, and only the tag tells the two apart.
    /// One call per batch, not one per cart: each script call costs Redis a dispatch, a Lua entry and a reply
    /// (EVALSHA measured 34 us per call on the loaded perf box for ~3 us of hash commands inside), and the
    /// client one task and one completion per call. Each cart is still decided on its own.
    /// </summary>
    internal const string CompareAndSetScript = """
        local results = {}
        for i = 1, #KEYS do
          local key = KEYS[i]
          local at = 2 + (i - 1) * 5
          local stored = redis.pcall('HMGET', key, 'v', 'w')
          if stored.err then
            results[i] = -1
          else
            local version = stored[1]
            if not version and redis.call('EXISTS', key) == 1 then
              results[i] = -1
            elseif (version or '0') ~= ARGV[at] then
              results[i] = 0
            elseif ARGV[at + 4] ~= '0' and stored[2] ~= ARGV[at + 4] then
              results[i] = 0
            else
              redis.call('HSET', key, 'v', ARGV[at + 1], 'r', ARGV[at + 2], 'w', ARGV[at + 3])
              redis.call('PEXPIRE', key, ARGV[1])
              results[i] = 1
            end
          end
        end
        return results
        """;

    /// <summary>Values per cart in the script's ARGV, after the retention.</summary>
    private const int ArgumentsPerCart = 5;

    private const int Written = 1;
    private const int Conflicted = 0;
    private const int NotACartRecord = -1;

    /// <summary>A batch whose keys hash to different cluster slots (the client's own "no slot" is -1).</summary>
    private const int MixedSlots = int.MinValue;

    private static readonly RedisValue VersionField = "v";
    private static readonly RedisValue RecordField = "r";
    private static readonly RedisValue[] LoadFields = [VersionField, RecordField];

    private readonly ConnectionMultiplexer _connection;
    private readonly IDatabase _database;
    private readonly string _keyPrefix;
    private readonly RedisValue _retentionMs;
    private readonly int _waitReplicas;
    private readonly object[] _waitArguments;
    private int _disposed;

    private RedisCartStore(ConnectionMultiplexer connection, RedisStoreOptions options)
    {
        _connection = connection;
        _database = connection.GetDatabase();
        _keyPrefix = options.KeyPrefix;
        _retentionMs = (long)Math.Ceiling(options.Retention.TotalMilliseconds);
        _waitReplicas = options.WaitReplicas;
        _waitArguments = [options.WaitReplicas, (long)Math.Max(1, options.Timeout.TotalMilliseconds / 2)];
    }

    public string Name => "redis";

    public bool IsShared => true;

    /// <summary>True while the client holds a live connection to Redis (it reconnects on its own).</summary>
    public bool IsConnected => _connection.IsConnected;

    /// <inheritdoc cref="IsConnected"/>
    public bool IsAvailable => _connection.IsConnected;

    /// <summary>
    /// Connects to Redis. Returns even when Redis is down (after at most the connect timeout): the client
    /// keeps reconnecting in the background and, meanwhile, every load and write fails at once with
    /// <see cref="CartStoreError.Unavailable"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static RedisCartStore Connect(RedisStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problem = options.Validate();
        if (problem is not null)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        var connection = ConnectionMultiplexer.Connect(RedisConfiguration.From(options));
        return new RedisCartStore(connection, options);
    }

    public CartRecord? Load(ulong cartId)
    {
        RedisValue[] fields;
        try
        {
            fields = _database.HashGet(KeyOf(cartId), LoadFields);
        }
        catch (RedisServerException ex) when (IsWrongType(ex))
        {
            throw Corrupt(cartId, "the key holds something other than a cart hash", ex);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw Unavailable($"loading cart {cartId}", ex);
        }

        if (_waitReplicas > 0 && !(fields[0].IsNull && fields[1].IsNull))
        {
            // What this node loaded may be its own write that a failed WAIT left unconfirmed: confirm it now.
            long confirmed;
            try
            {
                confirmed = (long)_database.Execute("WAIT", _waitArguments);
            }
            catch (Exception ex) when (IsUnavailable(ex))
            {
                throw Unavailable($"waiting for {_waitReplicas} replicas after loading cart {cartId}", ex);
            }

            if (confirmed < _waitReplicas)
            {
                throw TooFewReplicas(confirmed);
            }
        }

        return Decode(cartId, fields[0], fields[1]);
    }

    public ValueTask<IReadOnlyCollection<ulong>> WriteAsync(IReadOnlyList<CartWrite> writes)
    {
        ArgumentNullException.ThrowIfNull(writes);
        if (writes.Count == 0)
        {
            return new ValueTask<IReadOnlyCollection<ulong>>(Array.Empty<ulong>());
        }

        // The caller reuses its list once this completes; the ids are copied so nothing reads it afterwards.
        var ids = new ulong[writes.Count];
        var keys = new RedisKey[writes.Count];
        var slot = 0;
        for (var i = 0; i < writes.Count; i++)
        {
            ids[i] = writes[i].CartId;
            keys[i] = KeyOf(writes[i].CartId);
            var keySlot = _connection.HashSlot(keys[i]);
            slot = i == 0 || keySlot == slot ? keySlot : MixedSlots;
        }

        // Standalone Redis (every key "no slot") or a batch within one cluster slot: one script for the batch.
        // Keys of a cluster batch that span slots cannot share a script (CROSSSLOT): one script per cart there,
        // each routed to its slot's master.
        var pending = slot == MixedSlots ? new Task<RedisResult>[writes.Count] : new Task<RedisResult>[1];
        Task<RedisResult>? wait = null;
        try
        {
            // One batch: every script of the shard pass leaves in one socket write and comes back in one round trip.
            var batch = _database.CreateBatch();
            if (pending.Length == 1)
            {
                pending[0] = Evaluate(batch, keys, writes, 0, writes.Count);
            }
            else
            {
                for (var i = 0; i < writes.Count; i++)
                {
                    pending[i] = Evaluate(batch, [keys[i]], writes, i, 1);
                }
            }

            if (_waitReplicas > 0)
            {
                // After the scripts on the same connection: returns once that many replicas have them all.
                wait = batch.ExecuteAsync("WAIT", _waitArguments);
            }

            batch.Execute();
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            ObserveAll(pending);
            throw Unavailable($"writing {writes.Count} carts", ex);
        }

        return WriteAwaitedAsync(ids, pending, wait, _waitReplicas);
    }

    /// <summary>The script for <paramref name="count"/> writes from <paramref name="first"/> on, whose keys are <paramref name="keys"/>.</summary>
    private Task<RedisResult> Evaluate(IBatch batch, RedisKey[] keys, IReadOnlyList<CartWrite> writes, int first, int count)
    {
        var values = new RedisValue[1 + (count * ArgumentsPerCart)];
        values[0] = _retentionMs;
        for (var i = 0; i < count; i++)
        {
            var write = writes[first + i];
            var at = 1 + (i * ArgumentsPerCart);
            values[at] = write.ExpectedVersion;
            values[at + 1] = write.Record.State.Version;
            values[at + 2] = write.Record.ToByteArray();
            values[at + 3] = write.Writer;
            values[at + 4] = write.ExpectedWriter;
        }

        // By text, not as a LoadedLuaScript: the client sends EVALSHA once the server has the script and falls
        // back to EVAL on NOSCRIPT, so a restarted Redis (empty script cache) needs no reload step.
        return batch.ScriptEvaluateAsync(CompareAndSetScript, keys, values);
    }

    public void Delete(ulong cartId)
    {
        try
        {
            _database.KeyDelete(KeyOf(cartId));
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw Unavailable($"deleting cart {cartId}", ex);
        }
    }

    /// <summary>
    /// Deletes nothing and returns 0: every write sets the key's expiry to <see cref="RedisStoreOptions.Retention"/>,
    /// so Redis removes a cart that long after its last change, on the server, at no cost to any node. A scan
    /// here would walk the whole shared keyspace from every node of the cluster on every sweep, to find keys
    /// Redis is already expiring. The runtime's cutoff is ignored: the store's own retention decides.
    /// </summary>
    public Task<long> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        Task.FromResult(0L);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _connection.Dispose();
        }
    }

    internal RedisKey KeyOf(ulong cartId) => _keyPrefix + cartId.ToString(CultureInfo.InvariantCulture);

    private static async ValueTask<IReadOnlyCollection<ulong>> WriteAwaitedAsync(ulong[] ids, Task<RedisResult>[] pending, Task<RedisResult>? wait, int waitReplicas)
    {
        // Wait for every script, not just the first failure: nothing may still be in flight once this returns.
        await Task.WhenAll((Task[])pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (wait is not null)
        {
            await ((Task)wait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!wait.IsCompletedSuccessfully)
            {
                throw Unavailable($"waiting for {waitReplicas} replicas after writing {ids.Length} carts", wait.Exception?.InnerException ?? new TaskCanceledException(wait));
            }

            if ((long)wait.Result < waitReplicas)
            {
                // Written on the primary, not confirmed by enough replicas: the outcome is unknown to a failover.
                throw TooFewReplicas((long)wait.Result, waitReplicas);
            }
        }

        HashSet<ulong>? conflicts = null;
        for (var i = 0; i < pending.Length; i++)
        {
            var task = pending[i];
            if (!task.IsCompletedSuccessfully)
            {
                // A connection lost mid-batch may have landed some scripts: the outcome is unknown, so nothing of
                // the batch is acknowledged. The runtime drops these carts and reloads whatever Redis holds.
                var error = task.Exception?.InnerException ?? new TaskCanceledException(task);
                throw Unavailable($"writing {ids.Length} carts", error);
            }

            // One script for the whole batch (pending has one task), or one per cart (task i is cart i).
            var outcomes = (RedisResult[])task.Result!;
            var offset = pending.Length == 1 ? 0 : i;
            for (var j = 0; j < outcomes.Length; j++)
            {
                var outcome = (int)outcomes[j];
                if (outcome == Written)
                {
                    continue;
                }

                // Conflicted: another writer moved the version on. Not a cart record: refuse the write the same
                // way, so the runtime drops the cart and its next load reports the corrupt key.
                Debug.Assert(outcome is Conflicted or NotACartRecord, $"unexpected script result {outcome}");
                (conflicts ??= []).Add(ids[offset + j]);
            }
        }

        return conflicts is null ? Array.Empty<ulong>() : conflicts;
    }

    private static CartRecord? Decode(ulong cartId, RedisValue version, RedisValue bytes)
    {
        if (version.IsNull && bytes.IsNull)
        {
            return null;
        }

        if (version.IsNull || bytes.IsNull)
        {
            throw Corrupt(cartId, version.IsNull ? "the hash has a record but no version" : "the hash has a version but no record", null);
        }

        if (!version.TryParse(out long storedVersion) || storedVersion < 0)
        {
            throw Corrupt(cartId, "the stored version is not a number", null);
        }

        CartRecord record;
        try
        {
            record = CartRecord.Parser.ParseFrom(((ReadOnlyMemory<byte>)bytes).Span);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw Corrupt(cartId, "the record does not decode", ex);
        }

        // A record whose version disagrees with v could never be written again (every CAS would conflict).
        if (record.State is null || record.State.Version != (ulong)storedVersion)
        {
            throw Corrupt(cartId, $"the record's version {record.State?.Version.ToString(CultureInfo.InvariantCulture) ?? "(no state)"} differs from the stored version {storedVersion}", null);
        }

        return record;
    }

    private static void ObserveAll(Task<RedisResult>[] pending)
    {
        foreach (var task in pending)
        {
            // Fault-observing continuation, so a batch that failed to go out leaves no unobserved task exceptions.
            task?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static bool IsWrongType(RedisServerException ex) => ex.Message.StartsWith("WRONGTYPE", StringComparison.Ordinal);

    /// <summary>Connection loss, timeouts, a server refusing work (OOM, READONLY, LOADING), or a disposed client.</summary>
    private static bool IsUnavailable(Exception ex) =>
        ex is RedisException or TimeoutException or ObjectDisposedException;

    [StackTraceHidden]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CartStoreException Unavailable(string operation, Exception inner) =>
        new(CartStoreError.Unavailable, $"redis: {operation} failed: {inner.Message}", inner);

    private CartStoreException TooFewReplicas(long confirmed) => TooFewReplicas(confirmed, _waitReplicas);

    [StackTraceHidden]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CartStoreException TooFewReplicas(long confirmed, int wanted) =>
        new(CartStoreError.Unavailable, $"redis: only {confirmed} of {wanted} replicas confirmed the write in time (Redis:WaitReplicas)");

    [StackTraceHidden]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CartStoreException Corrupt(ulong cartId, string reason, Exception? inner) =>
        new(CartStoreError.Corrupt, $"redis: cart {cartId}'s stored value is unreadable: {reason}", inner);
}

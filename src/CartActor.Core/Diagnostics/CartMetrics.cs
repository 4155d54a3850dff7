using System.Collections.Frozen;
using System.Diagnostics.Metrics;

namespace CartActor.Diagnostics;

/// <summary>
/// The runtime's instruments (meter "CartActor"). Names are the exported Prometheus names without the suffix
/// the exporter adds: counters gain "_total" (cartactor_mutations_total), so none of them ends in it here.
/// Recording is lock-free and allocation-free: tags are
/// interned strings passed as single KeyValuePairs. Every tag value comes from a fixed set: a mutation type
/// that is not one of the registry's is counted as <see cref="UnknownType"/>, because each distinct label value
/// is a permanent series (client text as a label let one request add thousands of them to /metrics).
/// </summary>
public sealed class CartMetrics : IDisposable
{
    public const string MeterName = "CartActor";

    /// <summary>The type label of a mutation whose type URL names no known mutation.</summary>
    public const string UnknownType = "unknown";

    private readonly Meter _meter;
    private static readonly KeyValuePair<string, object?> Applied = new("result", "applied");
    private static readonly KeyValuePair<string, object?> Refused = new("result", "refused");
    private static readonly KeyValuePair<string, object?> WriteOk = new("result", "ok");
    private static readonly KeyValuePair<string, object?> WriteFailed = new("result", "failed");

    private readonly Counter<long> _mutations;
    private readonly Counter<long> _evictions;
    private readonly Counter<long> _rejections;
    private readonly Histogram<double> _storeWrite;
    private readonly Histogram<int> _storeBatch;
    private readonly Counter<long> _storeConflicts;
    private readonly FrozenDictionary<string, string> _typeLabels;

    /// <param name="factory">Creates the meter; null for a private one.</param>
    /// <param name="mutationTypes">The type labels allowed (the registry's mutation names); null for the default registry's.</param>
    public CartMetrics(IMeterFactory? factory = null, IEnumerable<string>? mutationTypes = null)
    {
        _typeLabels = (mutationTypes ?? Cart.MutationRegistry.Default.Handlers.Select(h => h.Name))
            .Distinct(StringComparer.Ordinal)
            .ToFrozenDictionary(t => t, t => t, StringComparer.Ordinal);
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _mutations = _meter.CreateCounter<long>("cartactor_mutations", description: "Mutations by type and result (applied, or refused by a cart rule).");
        _evictions = _meter.CreateCounter<long>("cartactor_evictions", description: "Carts evicted from memory, by reason.");
        _rejections = _meter.CreateCounter<long>("cartactor_shard_refusals", description: "Requests refused at once because their shard's queue was full (RESOURCE_EXHAUSTED).");

        _storeWrite = _meter.CreateHistogram<double>(
            "cartactor_store_write_duration_seconds",
            unit: "s",
            description: "Time to write one shard pass's batch to the store, by store and result (ok, failed). With the embedded store and --durability fsync this is the synced write: the fsync latency.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5] });
        _storeBatch = _meter.CreateHistogram<int>(
            "cartactor_store_write_batch_carts",
            description: "Carts written in one batch (one shard pass), by store.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] });
        _storeConflicts = _meter.CreateCounter<long>("cartactor_store_conflicts", description: "Writes refused by the store's compare-and-set (another node wrote the cart meanwhile), by store.");

        // Series of a fixed label set start at 0, so the first refusal or eviction is a visible increase
        // (Prometheus' rate() and increase() cannot see the first value of a series that appears at 1).
        _rejections.Add(0);
        foreach (var reason in Enum.GetValues<EvictionReason>())
        {
            _evictions.Add(0, new KeyValuePair<string, object?>("reason", ReasonTag(reason)));
        }
    }

    public Meter Meter => _meter;

    public void MutationApplied(string type) => _mutations.Add(1, new KeyValuePair<string, object?>("type", TypeLabel(type)), Applied);

    public void MutationFailed(string type) => _mutations.Add(1, new KeyValuePair<string, object?>("type", TypeLabel(type)), Refused);

    public void Evicted(EvictionReason reason) => _evictions.Add(1, new KeyValuePair<string, object?>("reason", ReasonTag(reason)));

    public void Rejected() => _rejections.Add(1);

    /// <summary>A new store: its conflict series starts at 0, so the first conflict is a visible increase.</summary>
    public void StoreOpened(string store) => _storeConflicts.Add(0, new KeyValuePair<string, object?>("store", store));

    /// <summary>One batch written (or not): its latency, size and the carts whose compare-and-set it lost.</summary>
    public void StoreWritten(string store, TimeSpan elapsed, int carts, int conflicts, bool failed)
    {
        var storeTag = new KeyValuePair<string, object?>("store", store);
        _storeWrite.Record(elapsed.TotalSeconds, storeTag, failed ? WriteFailed : WriteOk);
        _storeBatch.Record(carts, storeTag);
        if (conflicts > 0)
        {
            _storeConflicts.Add(conflicts, storeTag);
        }
    }

    /// <summary>Gauges read from the runtime when a collector asks.</summary>
    internal void Observe(Func<long> activeCarts, Func<long> queueDepth)
    {
        _meter.CreateObservableGauge("cartactor_active_carts", activeCarts, description: "Carts live in memory.");
        _meter.CreateObservableGauge("cartactor_shard_queue_depth", queueDepth, description: "Work items queued over all shards.");
    }

    public void Dispose() => _meter.Dispose();

    private string TypeLabel(string type) => _typeLabels.TryGetValue(type, out var label) ? label : UnknownType;

    private static string ReasonTag(EvictionReason reason) => reason switch
    {
        EvictionReason.IdleTtl => "idle_ttl",
        EvictionReason.Capacity => "capacity",
        EvictionReason.Shutdown => "shutdown",
        EvictionReason.Rollback => "rollback",
        EvictionReason.NotOwned => "not_owned",
        _ => "stale_view",
    };
}

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

    private readonly Counter<long> _mutations;
    private readonly Counter<long> _evictions;
    private readonly Counter<long> _rejections;
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

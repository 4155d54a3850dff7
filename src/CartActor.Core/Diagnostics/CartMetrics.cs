using System.Collections.Frozen;
using System.Diagnostics.Metrics;

namespace CartActor.Diagnostics;

/// <summary>
/// The runtime's instruments (meter "CartActor"). Recording is lock-free and allocation-free: tags are
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
    private readonly Counter<long> _applied;
    private readonly Counter<long> _failed;
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
        _applied = _meter.CreateCounter<long>("cart_mutations_applied", description: "Mutations applied, by type.");
        _failed = _meter.CreateCounter<long>("cart_mutations_failed", description: "Mutations refused, by type.");
        _evictions = _meter.CreateCounter<long>("cart_evictions", description: "Carts evicted from memory, by reason.");
        _rejections = _meter.CreateCounter<long>("cart_rejections", description: "Requests refused because a shard queue was full.");
    }

    public Meter Meter => _meter;

    public void MutationApplied(string type) => _applied.Add(1, new KeyValuePair<string, object?>("type", TypeLabel(type)));

    public void MutationFailed(string type) => _failed.Add(1, new KeyValuePair<string, object?>("type", TypeLabel(type)));

    public void Evicted(EvictionReason reason) => _evictions.Add(1, new KeyValuePair<string, object?>("reason", ReasonTag(reason)));

    public void Rejected() => _rejections.Add(1);

    /// <summary>Gauges read from the runtime when a collector asks.</summary>
    internal void Observe(Func<long> activeCarts, Func<long> queueDepth)
    {
        _meter.CreateObservableGauge("cart_active", activeCarts, description: "Carts live in memory.");
        _meter.CreateObservableGauge("cart_shard_queue_depth", queueDepth, description: "Work items queued over all shards.");
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

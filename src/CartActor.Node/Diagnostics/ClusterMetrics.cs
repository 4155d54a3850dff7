using System.Diagnostics.Metrics;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using CartActor.Ownership;

namespace CartActor.Node.Diagnostics;

/// <summary>
/// The cluster as this node sees it (meter "CartActor.Node"): members of its ring by state and every change
/// of the ring. Read from the immutable ring snapshot when a collector asks, and counted on the ring-changed
/// event (heartbeat pace), so nothing here runs per request.
/// Exported as cartactor_members{state}, cartactor_ring_epoch, cartactor_ring_changes_total, and the node's own
/// state: cartactor_readiness{reason} and, while it drains, cartactor_drain_idle_seconds.
/// </summary>
internal sealed class ClusterMetrics : IHostedService
{
    private static readonly KeyValuePair<string, object?> Alive = new("state", "alive");
    private static readonly KeyValuePair<string, object?> Suspect = new("state", "suspect");

    private readonly ClusterView _view;
    private readonly Counter<long> _ringChanges;

    private static readonly string[] Reasons = ["ready", "joining", "draining", "store unavailable"];

    private readonly NodeReadiness _readiness;
    private readonly TimeProvider _time;

    public ClusterMetrics(IMeterFactory factory, ClusterView view, NodeReadiness readiness, TimeProvider time)
    {
        _view = view;
        _readiness = readiness;
        _time = time;
        var meter = factory.Create(NodeMetrics.MeterName);
        meter.CreateObservableGauge("cartactor_members", ObserveMembers, description: "Members of this node's ring, by state (alive, or suspect: missed its pings, its carts served by stand-ins).");
        meter.CreateObservableGauge("cartactor_ring_epoch", () => TryRing()?.Epoch ?? 0, description: "Version of this node's view of the ring; rises on every change.");
        _ringChanges = meter.CreateCounter<long>("cartactor_ring_changes", description: "Changes of this node's ring (a member joined, left, became suspect or alive again).");
        _ringChanges.Add(0);
        meter.CreateObservableGauge("cartactor_readiness", ObserveReadiness, description: "1 for the node's readiness now (ready, joining, draining, store unavailable), 0 for the others: what /readyz answers.");
        meter.CreateObservableGauge("cartactor_drain_idle_seconds", ObserveDrainIdle, unit: "s", description: "While draining: seconds since the last call arrived (the drain ends once it is idle for two ping intervals, or at Node:ShutdownTimeout); 0 otherwise.");
    }

    private Measurement<int>[] ObserveReadiness()
    {
        var now = _readiness.Reason;
        return [.. Reasons.Select(r => new Measurement<int>(r == now ? 1 : 0, new KeyValuePair<string, object?>("reason", r)))];
    }

    private double ObserveDrainIdle() =>
        _readiness.IsDraining && _readiness.LastRequestAt != 0 ? _time.GetElapsedTime(_readiness.LastRequestAt).TotalSeconds : 0;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _view.RingChanged += OnRingChanged;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _view.RingChanged -= OnRingChanged;
        return Task.CompletedTask;
    }

    private void OnRingChanged(RingSnapshot before, RingSnapshot after) => _ringChanges.Add(1);

    private Measurement<int>[] ObserveMembers()
    {
        if (TryRing() is not { } ring)
        {
            return [];
        }

        var suspect = 0;
        for (var i = 0; i < ring.Members.Count; i++)
        {
            suspect += ring.IsSuspect(i) ? 1 : 0;
        }

        return [new Measurement<int>(ring.Members.Count - suspect, Alive), new Measurement<int>(suspect, Suspect)];
    }

    /// <summary>The ring, or null before Kestrel has bound the port the ring is named after.</summary>
    private RingSnapshot? TryRing()
    {
        try
        {
            return _view.Ring;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}

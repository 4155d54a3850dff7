using CartActor.Node.Diagnostics;
using CartActor.Persistence;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Hosting;

/// <summary>
/// Ready once the node has joined its cluster, while its store answers and until the first stop signal.
/// Drives /readyz (with the reason it is not ready) and the standard gRPC health service (SERVING /
/// NOT_SERVING for the whole server and for the ControlPlane service). Also remembers when the last call
/// arrived while draining, so a drain can end once the node is idle.
/// </summary>
public sealed class NodeReadiness : IHeartbeatDuty
{
    public const string ControlPlaneServiceName = "control_plane_messages.ControlPlane";

    private readonly HealthServiceImpl _health;
    private readonly ILogger<NodeReadiness> _logger;
    private readonly TimeProvider _time;
    private readonly string _storeName;
    private readonly ICartStore? _store;
    private readonly Lock _gate = new();
    private volatile bool _joined;
    private volatile bool _draining;
    private volatile bool _storeAvailable = true;
    private bool _published;
    private long _lastRequestAt;

    // Write-fault episodes of the store (see OnHeartbeat); touched only by the heartbeat that polls.
    private long _seenWriteFaults;
    private long _writeFaultSince;
    private volatile string? _writeFault;

    public NodeReadiness(HealthServiceImpl health, ILogger<NodeReadiness> logger, TimeProvider time, CartRuntime runtime)
    {
        _health = health;
        _logger = logger;
        _time = time;
        _store = runtime.Store;
        _storeName = _store?.Name ?? "memory";
        Publish(HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    public bool IsReady => _joined && !_draining && _storeAvailable;

    public bool IsDraining => _draining;

    /// <summary>Why the node is not ready ("joining", "draining", "store unavailable"), or "ready".</summary>
    public string Reason => _draining ? "draining" : !_joined ? "joining" : !_storeAvailable ? "store unavailable" : "ready";

    /// <summary>
    /// What /readyz says: <see cref="Reason"/>, and while the store refuses writes after a failed one, its cause
    /// ("store unavailable: rocksdb refuses writes after a failed write (IO error: No space left on device ...)").
    /// </summary>
    public string Detail => Reason == "store unavailable" && _writeFault is { } fault
        ? $"store unavailable: {_storeName} refuses writes after a failed write ({fault}); retrying by itself"
        : Reason;

    /// <summary>When the last call arrived during the drain (TimeProvider timestamp; 0 before any).</summary>
    public long LastRequestAt => Volatile.Read(ref _lastRequestAt);

    public void MarkJoined()
    {
        _joined = true;
        Update();
    }

    public void MarkDraining()
    {
        _draining = true;
        Volatile.Write(ref _lastRequestAt, _time.GetTimestamp());
        Update();
    }

    /// <summary>
    /// A heartbeat duty: polls the store's health (never per request). A write-fault episode (the store refused
    /// writes after one failed, e.g. a full disk) logs one warning naming its cause and one line when writes
    /// resume, even when it began and healed between two polls; an outage of a shared store logs one line per
    /// change.
    /// </summary>
    public void OnHeartbeat()
    {
        if (_store is null)
        {
            return;
        }

        var faults = _store.WriteFaults;
        var available = _store.IsAvailable;
        if (faults != _seenWriteFaults)
        {
            _seenWriteFaults = faults;
            _writeFaultSince = _time.GetTimestamp();
            _writeFault = _store.LastWriteFault ?? "unknown cause";
            NodeLog.StoreWritesFailing(_logger, _storeName, _writeFault);
        }

        if (_writeFault is not null)
        {
            if (available)
            {
                _writeFault = null;
                NodeLog.StoreWritesResumed(_logger, _storeName, _time.GetElapsedTime(_writeFaultSince));
            }

            SetStoreAvailable(available, log: false);
            return;
        }

        SetStoreAvailable(available, log: true);
    }

    private void SetStoreAvailable(bool available, bool log)
    {
        if (_storeAvailable == available)
        {
            return;
        }

        _storeAvailable = available;
        if (log && available)
        {
            NodeLog.StoreAvailable(_logger, _storeName);
        }
        else if (log)
        {
            NodeLog.StoreUnavailable(_logger, _storeName);
        }

        Update();
    }

    /// <summary>Called for every Apply and Get: one volatile read, and a timestamp only while draining.</summary>
    public void NoteRequest()
    {
        if (_draining)
        {
            Volatile.Write(ref _lastRequestAt, _time.GetTimestamp());
        }
    }

    private void Update()
    {
        lock (_gate)
        {
            var ready = IsReady;
            if (ready != _published)
            {
                _published = ready;
                Publish(ready ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing);
            }
        }
    }

    private void Publish(HealthCheckResponse.Types.ServingStatus status)
    {
        _health.SetStatus(string.Empty, status);
        _health.SetStatus(ControlPlaneServiceName, status);
    }
}

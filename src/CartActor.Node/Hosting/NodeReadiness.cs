using CartActor.Node.Diagnostics;
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
public sealed class NodeReadiness
{
    public const string ControlPlaneServiceName = "control_plane_messages.ControlPlane";

    private readonly HealthServiceImpl _health;
    private readonly ILogger<NodeReadiness> _logger;
    private readonly TimeProvider _time;
    private readonly string _storeName;
    private readonly Lock _gate = new();
    private volatile bool _joined;
    private volatile bool _draining;
    private volatile bool _storeAvailable = true;
    private bool _published;
    private long _lastRequestAt;

    public NodeReadiness(HealthServiceImpl health, ILogger<NodeReadiness> logger, TimeProvider time, CartRuntime runtime)
    {
        _health = health;
        _logger = logger;
        _time = time;
        _storeName = runtime.Store?.Name ?? "memory";
        Publish(HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    public bool IsReady => _joined && !_draining && _storeAvailable;

    public bool IsDraining => _draining;

    /// <summary>Why the node is not ready ("joining", "draining", "store unavailable"), or "ready".</summary>
    public string Reason => _draining ? "draining" : !_joined ? "joining" : !_storeAvailable ? "store unavailable" : "ready";

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

    /// <summary>The store's health, polled by the heartbeat; one log line per change, never per request.</summary>
    public void SetStoreAvailable(bool available)
    {
        if (_storeAvailable == available)
        {
            return;
        }

        _storeAvailable = available;
        if (available)
        {
            NodeLog.StoreAvailable(_logger, _storeName);
        }
        else
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

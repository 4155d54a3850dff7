using Grpc.Health.V1;
using Grpc.HealthCheck;

namespace CartActor.Node.Hosting;

/// <summary>
/// Ready between start-up and the first stop signal. Drives /readyz and the standard gRPC health service
/// (SERVING / NOT_SERVING for the whole server and for the ControlPlane service).
/// </summary>
public sealed class NodeReadiness
{
    public const string ControlPlaneServiceName = "control_plane_messages.ControlPlane";

    private readonly HealthServiceImpl _health;
    private volatile bool _ready;

    public NodeReadiness(HealthServiceImpl health)
    {
        _health = health;
        Publish(HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    public bool IsReady => _ready;

    public void MarkReady()
    {
        _ready = true;
        Publish(HealthCheckResponse.Types.ServingStatus.Serving);
    }

    public void MarkDraining()
    {
        _ready = false;
        Publish(HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    private void Publish(HealthCheckResponse.Types.ServingStatus status)
    {
        _health.SetStatus(string.Empty, status);
        _health.SetStatus(ControlPlaneServiceName, status);
    }
}

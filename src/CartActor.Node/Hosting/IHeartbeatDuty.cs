namespace CartActor.Node.Hosting;

/// <summary>
/// Timed work the node's one heartbeat (the membership loop, every <see cref="ClusterOptions.PingInterval"/>)
/// runs on each beat, as Kestrel's heartbeat runs its handlers: a duty checks whether it is due on the
/// injected clock and starts its work without waiting for it, and never throws. Called by one thread at a time.
/// </summary>
public interface IHeartbeatDuty
{
    void OnHeartbeat();
}

/// <summary>The runtime's idle-TTL sweep, driven by the heartbeat instead of a timer of its own.</summary>
internal sealed class IdleSweepDuty(CartRuntime runtime) : IHeartbeatDuty
{
    public void OnHeartbeat() => runtime.SweepIdleIfDue();
}

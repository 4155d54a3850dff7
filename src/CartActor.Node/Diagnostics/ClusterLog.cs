using Microsoft.Extensions.Logging;

namespace CartActor.Node.Diagnostics;

/// <summary>Membership and drain log lines (event ids 100+; 108, 109, 111-113 belonged to the removed hand-over, 110 to the removed announcer). All at heartbeat pace, none per request.</summary>
internal static partial class ClusterLog
{
    [LoggerMessage(100, LogLevel.Information, "Joined the cluster as {Self}; ring has {Members} members")]
    public static partial void Joined(ILogger logger, string self, int members);

    [LoggerMessage(101, LogLevel.Information, "Ring epoch {Epoch}: {Count} members [{Members}]")]
    public static partial void RingChanged(ILogger logger, long epoch, int count, string members);

    [LoggerMessage(102, LogLevel.Information, "{Host} answered its ping (was {Previous}): member")]
    public static partial void MemberAlive(ILogger logger, string host, string previous);

    [LoggerMessage(103, LogLevel.Warning, "{Host} missed {Misses} pings: suspect")]
    public static partial void MemberSuspect(ILogger logger, string host, int misses);

    [LoggerMessage(104, LogLevel.Warning, "{Host} silent past the dead-after time: removed")]
    public static partial void MemberDead(ILogger logger, string host);

    [LoggerMessage(105, LogLevel.Information, "{Host} never answered a ping: forgotten")]
    public static partial void CandidateForgotten(ILogger logger, string host);

    [LoggerMessage(106, LogLevel.Warning, "Seed {Seed} did not resolve: {Reason}")]
    public static partial void SeedUnresolved(ILogger logger, string seed, string reason);

    [LoggerMessage(107, LogLevel.Warning, "Closing notice not delivered to {Peer}: {Reason}")]
    public static partial void ClosingNotDelivered(ILogger logger, string peer, string reason);







    [LoggerMessage(114, LogLevel.Warning, "{Host} refused or reset a connection: suspect at once (its carts go to their stand-ins)")]
    public static partial void MemberUnreachable(ILogger logger, string host);

    [LoggerMessage(115, LogLevel.Warning, "No peer answered for longer than the suspect time (a pause?): dropped {Carts} cached carts, refreshing the view before serving")]
    public static partial void StaleViewDropped(ILogger logger, int carts);

    [LoggerMessage(116, LogLevel.Information, "Draining: left the ring and sent Closing; forwarding every call to the new owners until idle")]
    public static partial void LeftRing(ILogger logger);

    [LoggerMessage(117, LogLevel.Error, "Heartbeat step {Step} failed; the heartbeat goes on with its next step and beat")]
    public static partial void HeartbeatStepFailed(ILogger logger, string step, Exception exception);
}

using Microsoft.Extensions.Logging;

namespace CartActor.Node.Diagnostics;

/// <summary>Membership and handoff log lines (event ids 100+). All at heartbeat pace, none per request.</summary>
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

    [LoggerMessage(108, LogLevel.Information, "Took cart {CartId} (version {Version}) from {Holder}")]
    public static partial void CartTaken(ILogger logger, ulong cartId, ulong version, string holder);

    [LoggerMessage(109, LogLevel.Warning, "Previous holder {Holder} of cart {CartId} is gone; the cart starts empty here (no shared store)")]
    public static partial void HolderGone(ILogger logger, ulong cartId, string holder);

    [LoggerMessage(110, LogLevel.Warning, "Announcement to {Peer} failed: {Reason}")]
    public static partial void AnnounceFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(111, LogLevel.Information, "Draining: {Carts} carts left to hand over")]
    public static partial void DrainProgress(ILogger logger, long carts);

    [LoggerMessage(112, LogLevel.Warning, "Hand-over of cart {CartId} to {Owner} not confirmed: {Reason}; this node keeps its copy")]
    public static partial void TakeNotConfirmed(ILogger logger, ulong cartId, string owner, string reason);

    [LoggerMessage(113, LogLevel.Warning, "Drain window over with {Carts} hand-overs not confirmed by their new owners; their copies stay on this node's disk")]
    public static partial void DrainUnconfirmed(ILogger logger, int carts);
}

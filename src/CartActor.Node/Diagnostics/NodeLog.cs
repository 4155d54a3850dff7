using Microsoft.Extensions.Logging;

namespace CartActor.Node.Diagnostics;

/// <summary>Every log line the node writes, source generated. Nothing here runs per successful request.</summary>
internal static partial class NodeLog
{
    [LoggerMessage(1, LogLevel.Information, "CartActor node {Host} serving gRPC on {GrpcEndpoint}, HTTP on {HttpEndpoint}; shards={Shards} idleTtl={IdleTtl} maxCarts={MaxCarts} maxMessage={MaxMessageSize}B seeds=[{Seeds}]")]
    public static partial void Started(ILogger logger, string host, string grpcEndpoint, string httpEndpoint, int shards, TimeSpan idleTtl, int maxCarts, int maxMessageSize, string seeds);

    [LoggerMessage(2, LogLevel.Error, "Unexpected failure in {Rpc}; answered INTERNAL")]
    public static partial void UnexpectedFailure(ILogger logger, string rpc, Exception exception);

    [LoggerMessage(3, LogLevel.Information, "Draining: readiness off, in-flight calls finishing")]
    public static partial void Draining(ILogger logger);

    [LoggerMessage(4, LogLevel.Information, "Stopped: {Evicted} carts evicted with their callbacks run")]
    public static partial void Stopped(ILogger logger, int evicted);

    [LoggerMessage(5, LogLevel.Information, "Peer {Host} announced it is closing")]
    public static partial void PeerClosing(ILogger logger, string host);

    [LoggerMessage(6, LogLevel.Information, "Retention sweep of the {Store} store deleted {Deleted} carts untouched for {Retention}")]
    public static partial void RetentionSwept(ILogger logger, string store, long deleted, TimeSpan retention);

    [LoggerMessage(7, LogLevel.Warning, "Retention sweep of the {Store} store failed: {Reason}")]
    public static partial void RetentionFailed(ILogger logger, string store, string reason);

    [LoggerMessage(8, LogLevel.Information, "Store: {Store} ({Detail}), durability {Durability}")]
    public static partial void StoreOpened(ILogger logger, string store, string detail, string durability);

    [LoggerMessage(9, LogLevel.Warning, "Clustered with --store memory: nothing is shared, so a cart that changes owner (a node joins, leaves or stops answering) starts empty on its new owner; use --store redis://host:port to keep carts")]
    public static partial void MemoryStoreInCluster(ILogger logger);

    [LoggerMessage(10, LogLevel.Warning, "Store {Store} unavailable: not ready until it answers again")]
    public static partial void StoreUnavailable(ILogger logger, string store);

    [LoggerMessage(11, LogLevel.Information, "Store {Store} available again: ready")]
    public static partial void StoreAvailable(ILogger logger, string store);

    [LoggerMessage(12, LogLevel.Information, "Draining: readiness off; serving normally for the drain delay ({DrainDelay}) while routing stops")]
    public static partial void DrainDelay(ILogger logger, TimeSpan drainDelay);

    [LoggerMessage(13, LogLevel.Warning, "Store {Store} refuses writes after a failed write ({Cause}): not ready, writes fail with UNAVAILABLE and reads go on while it retries by itself")]
    public static partial void StoreWritesFailing(ILogger logger, string store, string cause);

    [LoggerMessage(14, LogLevel.Information, "Store {Store} takes writes again after {Downtime}: ready")]
    public static partial void StoreWritesResumed(ILogger logger, string store, TimeSpan downtime);

    [LoggerMessage(20, LogLevel.Warning, "No cluster key (--cluster-key, Cluster:Key or Cluster:KeyFile) and no mutual TLS (--tls-client-ca): this node's control plane is open, and any client can act as a cluster member (Negotiate, Closing, announcements, the forwarding marks)")]
    public static partial void ControlPlaneOpen(ILogger logger);

    [LoggerMessage(21, LogLevel.Information, "TLS on the gRPC port (peers dialled over https): {Detail}")]
    public static partial void TlsOn(ILogger logger, string detail);

    [LoggerMessage(40, LogLevel.Warning, "{Count} TLS handshakes on the gRPC port failed (at most one such line per {IntervalSeconds} s); last client certificate refused: {RefusedCertificate}. A client that does not trust this node's certificate, speaks cleartext, or connects and closes also counts; Kestrel logs each failure at Debug (Microsoft.AspNetCore.Server.Kestrel.Https)")]
    public static partial void TlsHandshakesFailed(ILogger logger, long count, int intervalSeconds, string refusedCertificate);
}

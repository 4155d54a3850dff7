namespace CartActor.Node.Hosting;

/// <summary>
/// The node's own settings (configuration section "Node"). Every value has a working default, so a bare
/// `dotnet run` starts a usable node. Short command-line flags are listed in <see cref="NodeCommandLine"/>.
/// </summary>
public sealed class NodeOptions
{
    public const string Section = "Node";

    /// <summary>gRPC (HTTP/2 cleartext) port; 0 picks a free one. Default 1337.</summary>
    public int Port { get; set; } = 1337;

    /// <summary>HTTP/1.1 port for /healthz, /readyz and /metrics; 0 picks a free one. Default 8080.</summary>
    public int HttpPort { get; set; } = 8080;

    /// <summary>Address both ports bind to: an IP, "localhost", or "*" / "0.0.0.0" / "::" for all. Default 127.0.0.1.</summary>
    public string Bind { get; set; } = "127.0.0.1";

    /// <summary>What peers dial and what Ping and announcements carry: "name" (the gRPC port is appended) or "name:port". Default: the machine name.</summary>
    public string? Host { get; set; }

    /// <summary>Seed peers, "name:port", comma separated on the command line.</summary>
    public string[] Seeds { get; set; } = [];

    /// <summary>Where the embedded store (RocksDB) lives. Default ./data.</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>
    /// Where carts are kept: "rocksdb" (embedded, in <see cref="DataDir"/>), "redis://host:port" (shared by
    /// the cluster; a dead node's carts survive), or "memory" (nothing survives a restart). Default rocksdb.
    /// </summary>
    public string Store { get; set; } = "rocksdb";

    /// <summary>"fsync": an acknowledged change survives power loss; "os": it survives a crash of the process. Default fsync.</summary>
    public string Durability { get; set; } = "fsync";

    /// <summary>
    /// With --durability fsync: the longest (µs) a sync waits for the writes the previous sync predicts, so they share
    /// it (group commit, like Postgres commit_delay); half the recent sync time when that is shorter; a lone writer
    /// never waits. 0 turns it off; at most 1000. Default 200.
    /// </summary>
    public int GroupCommitDelayMicroseconds { get; set; } = 200;

    /// <summary>Carts untouched this long are deleted from the store. Default 30 days.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often the retention sweep runs (embedded store; Redis expires keys itself). Default 1 h.</summary>
    public TimeSpan RetentionSweepInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Largest gRPC request accepted; a larger one is refused with RESOURCE_EXHAUSTED. Default 4 MiB.</summary>
    public int MaxMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// PEM certificate for TLS on the gRPC port (with its key in the same file or in <see cref="TlsKey"/>); also the
    /// client certificate this node presents to peers. Default none: the gRPC port speaks cleartext HTTP/2 and peers dial http.
    /// </summary>
    public string? TlsCert { get; set; }

    /// <summary>PEM private key of <see cref="TlsCert"/>, when the certificate file does not hold it. Default none.</summary>
    public string? TlsKey { get; set; }

    /// <summary>
    /// PEM CA certificate(s) for mutual TLS between nodes: connections may present a client certificate, which must be
    /// issued by this CA, and such a connection counts as an authenticated peer. Also the trust root for peers' server
    /// certificates. Default none.
    /// </summary>
    public string? TlsClientCa { get; set; }

    /// <summary>
    /// Serve ControlPlane/Apply and /Get, and the storefront's CartService/GetCart and /Mutate over gRPC, with the
    /// node's own request delegate on Kestrel (a conforming gRPC endpoint that skips Grpc.AspNetCore's per-call
    /// machinery); false serves them through Grpc.AspNetCore like every other RPC. Same statuses, trailers and bytes either way (tests/CartActor.Node.Tests/Conformance). Default true.
    /// </summary>
    public bool MinimalEndpoint { get; set; } = true;

    /// <summary>
    /// Concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS); streams beyond it are refused with
    /// REFUSED_STREAM before any work is done. Default 512. Kestrel queues each stream's output, a refused stream's
    /// included, in a per-connection queue of twice this, and aborts the whole connection when it overflows (answers
    /// of applied calls lost); so a burst of up to twice this many streams, sent before the client has read our
    /// SETTINGS, is always answered or refused. 512 covers a burst of 1 024 (at 256, a burst of 800 lost the connection in 1 of 6 runs).
    /// </summary>
    public int MaxStreamsPerConnection { get; set; } = 512;

    /// <summary>
    /// Bytes of large replies (64 KiB and more) written but not yet taken by their clients, node-wide; a call whose
    /// reply does not fit is refused with RESOURCE_EXHAUSTED naming this setting. Bounds what clients that never read
    /// (or grant no HTTP/2 window) can pin in the node. Default 256 MiB.
    /// </summary>
    public long MaxPendingReplyBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// How long a large reply may wait for its client to take it; past it the stream is reset and its memory goes
    /// back. Default 30 s.
    /// </summary>
    public TimeSpan ReplyStallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Open connections per port; more are closed at once while the open ones keep being served. Default 0: sized
    /// below the open-file limit seen at start ((soft limit - 256) / 2, at least 16).
    /// </summary>
    public int MaxConnections { get; set; }

    /// <summary>
    /// On SIGTERM, how long the node keeps serving normally with readiness off before it leaves the ring:
    /// the time a load balancer (a Kubernetes Service) needs to stop routing to it. Default 5 s.
    /// </summary>
    public TimeSpan DrainDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a graceful stop waits for in-flight calls and eviction before exiting. Default 25 s (inside Kubernetes' 30 s grace).</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>
    /// Browser origins (e.g. https://shop.example) allowed to call the storefront API (JSON and gRPC-Web) across
    /// origins, comma separated on the command line. Default none: no CORS headers are sent.
    /// </summary>
    public string[] CorsOrigins { get; set; } = [];

    /// <summary>WatchCart streams per cart on this node; one more is refused with RESOURCE_EXHAUSTED. Default 16.</summary>
    public int MaxWatchersPerCart { get; set; } = 16;

    /// <summary>WatchCart streams on this node, all carts together. Default 10000.</summary>
    public int MaxWatchersPerNode { get; set; } = 10_000;

    /// <summary>Cart ids in one AnnounceOwnership or AnnounceExpiry a peer may send; a larger one is INVALID_ARGUMENT. Default 10 000.</summary>
    public int MaxIdsPerAnnouncement { get; set; } = 10_000;

    /// <summary>Hosts remembered from Negotiate and seeds (members and candidates together); beyond it new names are refused.</summary>
    public int MaxKnownHosts { get; set; } = 1024;

    /// <summary>
    /// Traces: "off", or "otlp" (a span per Apply, Get and WatchCart, per forward and per store load and write, exported by the OTLP
    /// exporter, which the standard OTEL_EXPORTER_OTLP_* variables configure). Default off.
    /// </summary>
    public string Traces { get; set; } = "off";

    /// <summary>Learnt hosts waiting to answer their first Ping; beyond it new names are ignored until some answer or are forgotten. Default 64.</summary>
    public int MaxCandidates { get; set; } = 64;
}

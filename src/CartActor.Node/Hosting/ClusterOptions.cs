namespace CartActor.Node.Hosting;

/// <summary>Membership, liveness and routing settings (configuration section "Cluster").</summary>
public sealed class ClusterOptions
{
    public const string Section = "Cluster";

    /// <summary>How often every peer is pinged; also the heartbeat that drives every cluster timeout. Default 1 s.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A ping not answered within this counts as missed. Default 500 ms.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Missed pings in a row after which a member is Suspect (its carts are served by their stand-ins). Default 3.</summary>
    public int SuspectAfterMisses { get; set; } = 3;

    /// <summary>
    /// A member (or a learnt host) silent this long is removed (forgotten) by the next heartbeat: within this plus
    /// <see cref="PingInterval"/> plus <see cref="PingTimeout"/>. Default 10 s.
    /// </summary>
    public TimeSpan DeadAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often views are merged with every member through Negotiate. Default 5 s.</summary>
    public TimeSpan NegotiateInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often seed DNS names are resolved again (a Kubernetes headless service grows and shrinks). Default 30 s.</summary>
    public TimeSpan SeedResolveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Deadline of a routed call (forwards and their retries) whose caller set none. Default 5 s.</summary>
    public TimeSpan ForwardTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The longest one forward attempt may take within the caller's deadline, so an owner that hangs (paused,
    /// frozen) leaves time for a retry to its stand-in once it is suspect. Above a healthy forward's worst
    /// latency, below the usual deadline. Default 2 s.
    /// </summary>
    public TimeSpan ForwardAttemptTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The cluster credential (--cluster-key): peers send it on every node-to-node call, and peer-only calls and
    /// internal marks are honoured only with it. 16..256 printable ASCII characters. Default none: the control
    /// plane is open (a node with seeds says so once at start). Never logged.
    /// </summary>
    public string? Key { get; set; }

    /// <summary>A file holding <see cref="Key"/> (a mounted Kubernetes Secret); trailing newlines are trimmed. Default none.</summary>
    public string? KeyFile { get; set; }

    public string? Validate()
    {
        if (PingInterval <= TimeSpan.Zero) return $"Cluster:PingInterval must be positive (was {PingInterval})";
        if (PingTimeout <= TimeSpan.Zero) return $"Cluster:PingTimeout must be positive (was {PingTimeout})";
        if (SuspectAfterMisses < 1) return $"Cluster:SuspectAfterMisses must be at least 1 (was {SuspectAfterMisses})";
        if (DeadAfter <= PingInterval) return $"Cluster:DeadAfter must exceed Cluster:PingInterval (was {DeadAfter})";
        if (NegotiateInterval <= TimeSpan.Zero) return $"Cluster:NegotiateInterval must be positive (was {NegotiateInterval})";
        if (SeedResolveInterval <= TimeSpan.Zero) return $"Cluster:SeedResolveInterval must be positive (was {SeedResolveInterval})";
        if (ForwardTimeout <= TimeSpan.Zero) return $"Cluster:ForwardTimeout must be positive (was {ForwardTimeout})";
        if (ForwardAttemptTimeout <= TimeSpan.Zero) return $"Cluster:ForwardAttemptTimeout must be positive (was {ForwardAttemptTimeout})";
        return null;
    }
}

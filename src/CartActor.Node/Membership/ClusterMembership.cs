using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using CartActor.Ownership;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Membership;

/// <summary>
/// Who is in the cluster. One heartbeat (every <see cref="ClusterOptions.PingInterval"/>) pings every known
/// host, promotes a host to member only once it has answered a Ping itself, marks members that miss
/// pings Suspect, removes them after the dead-after time, forgets hosts that never answered, re-resolves
/// seeds and merges views with Negotiate. Every change is published as a new ring snapshot, and every new
/// snapshot drops from memory the carts this node no longer serves (their records are written; whoever
/// serves them next loads them from the store). This is the node's one heartbeat: each beat also runs the
/// other timed duties (<see cref="IHeartbeatDuty"/>: the idle-TTL sweep, the retention sweep, the store-health poll).
/// This type is the loop and its I/O; the membership rules live in <see cref="PeerTable"/> (pure, unit-tested
/// on a fake clock), guarded here by a lock: it changes at heartbeat pace, never on the request path; the
/// request path reads one timestamp (<see cref="IsViewStale"/>).
/// <para>
/// Partials by concern over the fields here: this file holds the peer table's views and ring publishing;
/// Heartbeat (the loop, a tick, join and leave), PeerIO (Ping, Negotiate, seeds), SelfConfirmation,
/// StaleView (freshness, stale-view recovery, refresh, dropping carts a new ring moves away) and Report
/// (a one-line account of the state, for failure reports).
/// </para>
/// </summary>
internal sealed partial class ClusterMembership : BackgroundService, IHostedLifecycleService
{
    private readonly ClusterView _view;
    private readonly PeerClients _clients;
    private readonly NodeReadiness _readiness;
    private readonly NodeOptions _node;
    private readonly ClusterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ClusterMembership> _logger;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Lock _gate = new();
    private readonly PeerTable _peers;
    private readonly SemaphoreSlim _tickLock = new(1, 1);
    private readonly CartRuntime _runtime;
    private readonly IHeartbeatDuty[] _duties;
    private readonly long _staleAfterTicks;
    private Task? _refresh;

    // The Negotiate round in flight, shared: the heartbeat starts one and pings on without waiting for it.
    private Task? _negotiation;

    // True once every peer that answered Negotiate counts this node among its healthy hosts. Until then this
    // node marks itself suspect in its own ring: its carts are served by their stand-ins, the nodes that
    // serve them in the peers' view, so two nodes never serve one cart from memory at once on a join.
    private volatile bool _selfConfirmed;
    private Task? _recovery;

    // Until when this node's view counts as current (TimeProvider timestamp): renewed by every heartbeat a
    // peer answered; long.MaxValue while it has no peers. Read on the request path, one compare.
    private long _freshUntil = long.MaxValue;
    private TaskCompletionSource _kick = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastNegotiate;
    private long _lastSeedResolve;
    private volatile bool _joined;
    private volatile bool _leaving;

    public ClusterMembership(
        ClusterView view,
        PeerClients clients,
        NodeReadiness readiness,
        IOptions<NodeOptions> node,
        IOptions<ClusterOptions> options,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        CartRuntime runtime,
        IEnumerable<IHeartbeatDuty> duties,
        ILogger<ClusterMembership> logger)
    {
        _duties = [.. duties];
        _lifetime = lifetime;
        _runtime = runtime;
        _view = view;
        _clients = clients;
        _readiness = readiness;
        _node = node.Value;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _peers = new PeerTable(_options, _node.MaxKnownHosts, time, _node.MaxCandidates);

        // A view is stale once no peer has answered for the suspect time plus a slow heartbeat's pings.
        var staleAfter = _options.PingInterval * _options.SuspectAfterMisses + _options.PingTimeout * 2;
        _staleAfterTicks = (long)(staleAfter.TotalSeconds * _time.TimestampFrequency);
        _view.RingChanged += (_, _) => DropNotServed();
    }

    /// <summary>A node on a node-local store (RocksDB) without seeds serves alone: it learns no peers and answers no Ping.</summary>
    public bool IsStandalone => _runtime.Store is { IsShared: false };

    /// <summary>
    /// A connection to <paramref name="host"/> was refused or reset: strong evidence it is gone. It is
    /// Suspect at once (its carts go to their stand-ins) instead of after the missed pings; a ping it
    /// answers makes it Alive again.
    /// </summary>
    public void ReportUnreachable(string host)
    {
        host = RingSnapshot.Normalize(host);
        lock (_gate)
        {
            if (_peers.MarkUnreachable(host))
            {
                ClusterLog.MemberUnreachable(_logger, host);
                PublishLocked();
            }
        }
    }

    /// <summary>Hosts learnt from a peer (Negotiate, announcements): candidates until they answer a Ping.</summary>
    public void Learn(IEnumerable<string> hosts)
    {
        if (IsStandalone)
        {
            return;
        }

        bool learnt;
        lock (_gate)
        {
            learnt = _peers.Learn(hosts, _view.Self) > 0;
        }

        if (learnt)
        {
            Kick();
        }
    }

    /// <summary>A peer announced a graceful stop: it leaves the ring at once.</summary>
    public bool RemoveClosing(string host)
    {
        host = RingSnapshot.Normalize(host);
        bool removed;
        lock (_gate)
        {
            removed = _peers.Remove(host);
            if (removed)
            {
                PublishLocked();
            }
        }

        if (removed)
        {
            // Calls forwarded to it may still be answered until it stops (at most its shutdown timeout): dispose its channel later.
            _clients.ForgetAfter(host, _node.ShutdownTimeout);
        }

        return removed;
    }

    /// <summary>Hosts known besides this node: members (alive or suspect) and candidates that have not answered yet.</summary>
    public (int Members, int Candidates) KnownHosts()
    {
        lock (_gate)
        {
            var members = _peers.Members.Length;
            return (members, _peers.Count - members);
        }
    }

    /// <summary>This node and every member that answers its pings.</summary>
    public List<string> HealthyHosts()
    {
        lock (_gate)
        {
            var hosts = new List<string> { _view.Self };
            hosts.AddRange(_peers.Alive);
            return hosts;
        }
    }

    private bool ApplyPingResults(string[] peers, string?[] replies)
    {
        var events = _peers.ApplyPings([.. peers.Zip(replies)], _view.Self, out var changed);
        foreach (var e in events)
        {
            switch (e.Kind)
            {
                case PeerEventKind.Alive:
                    ClusterLog.MemberAlive(_logger, e.Host, e.Detail);
                    _view.MarkAlive(e.Host);
                    break;
                case PeerEventKind.Suspect:
                    ClusterLog.MemberSuspect(_logger, e.Host, int.Parse(e.Detail, System.Globalization.CultureInfo.InvariantCulture));
                    break;
                case PeerEventKind.Dead:
                    _clients.Forget(e.Host);
                    _view.MarkDead(e.Host);
                    ClusterLog.MemberDead(_logger, e.Host);
                    break;
                case PeerEventKind.Forgotten:
                    _clients.Forget(e.Host);
                    ClusterLog.CandidateForgotten(_logger, e.Host);
                    break;
                case PeerEventKind.Replaced:
                    // A seed address that answered as a name (or as this node): its channel is not the member's.
                    _clients.Forget(e.Host);
                    break;
            }
        }

        return changed;
    }

    private void PublishLocked()
    {
        var members = _peers.Members;
        var suspects = _peers.Suspects;
        if (!_selfConfirmed)
        {
            suspects.Add(_view.Self);
        }

        var before = _view.Map.Current;
        var ring = _view.Map.Publish(members, suspects, _time.GetTimestamp());
        if (ring.RingId != before.RingId)
        {
            ClusterLog.RingChanged(_logger, ring.Epoch, ring.Members.Count, string.Join(",", ring.Members));
        }
    }

    private int PeerCount()
    {
        lock (_gate)
        {
            return _peers.Count;
        }
    }

    private bool ConvergedSince(int peersBefore)
    {
        lock (_gate)
        {
            // Converged: nothing new was learnt in a full round, and every learnt host has answered or been forgotten.
            return _peers.Count == peersBefore && _peers.NoCandidates;
        }
    }

    public override void Dispose()
    {
        _tickLock.Dispose();
        base.Dispose();
    }
}

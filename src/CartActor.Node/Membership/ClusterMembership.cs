using System.Net;
using System.Net.Sockets;
using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using CartActor.Ownership;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Membership;

/// <summary>
/// Who is in the cluster. One heartbeat (every <see cref="ClusterOptions.PingInterval"/>) pings every known
/// host, promotes a host to member only once it has answered a Ping itself, marks members that miss
/// pings Suspect, removes them after the dead-after time, forgets hosts that never answered, re-resolves
/// seeds and merges views with Negotiate. Every change is published as a new ring snapshot, and every new
/// snapshot drops from memory the carts this node no longer serves (their records are written; whoever
/// serves them next loads them from the store). The heartbeat also polls the store's health for readiness.
/// This type is the loop and its I/O; the membership rules live in <see cref="PeerTable"/> (pure, unit-tested
/// on a fake clock), guarded here by a lock: it changes at heartbeat pace, never on the request path; the
/// request path reads one timestamp (<see cref="IsViewStale"/>).
/// </summary>
public sealed class ClusterMembership : BackgroundService, IHostedLifecycleService
{
    private readonly ClusterView _view;
    private readonly PeerClients _clients;
    private readonly OwnershipHints _hints;
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
    private readonly long _staleAfterTicks;
    private Task? _refresh;

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
        OwnershipHints hints,
        NodeReadiness readiness,
        IOptions<NodeOptions> node,
        IOptions<ClusterOptions> options,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        CartRuntime runtime,
        ILogger<ClusterMembership> logger)
    {
        _lifetime = lifetime;
        _runtime = runtime;
        _view = view;
        _clients = clients;
        _hints = hints;
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
    /// True when no peer has answered this node for longer than the suspect time (it was paused, or cut
    /// off): peers may have served its carts meanwhile, so its cached copies cannot be trusted. One
    /// timestamp compare; always false for a node without peers.
    /// </summary>
    public bool IsViewStale()
    {
        var until = Volatile.Read(ref _freshUntil);
        return until != long.MaxValue && !_leaving && _time.GetTimestamp() > until;
    }

    /// <summary>
    /// After a stale view: drops every cached cart (the store has the truth) and refreshes the view before
    /// anything is served. Concurrent callers share one recovery.
    /// </summary>
    public Task RecoverStaleViewAsync(CancellationToken cancellationToken)
    {
        Task running;
        lock (_gate)
        {
            if (_recovery is null || _recovery.IsCompleted)
            {
                _recovery = Task.Run(RecoverAsync, CancellationToken.None);
            }

            running = _recovery;
        }

        return running.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// A peer's refusal showed another ring: refresh this node's view, unless it has already moved past
    /// <paramref name="seenEpoch"/>. Concurrent callers share one round (one heartbeat tick, not one each).
    /// </summary>
    public Task RefreshAsync(long seenEpoch, CancellationToken cancellationToken)
    {
        if (_view.Map.Current.Epoch > seenEpoch || _leaving)
        {
            return Task.CompletedTask;
        }

        Task running;
        lock (_gate)
        {
            if (_refresh is null || _refresh.IsCompleted)
            {
                _refresh = Task.Run(() => TickAsync(forceNegotiate: true, CancellationToken.None), CancellationToken.None);
            }

            running = _refresh;
        }

        return running.WaitAsync(cancellationToken);
    }

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

    /// <summary>True once every peer counts this node as a member: only then does it serve its own carts.</summary>
    public bool IsConfirmed => _selfConfirmed;

    /// <summary>True once the first view has converged; until then Ping answers UNAVAILABLE so nobody hands carts to a half-joined node.</summary>
    public bool IsJoined => _joined && !_leaving;

    public bool IsLeaving => _leaving;

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
            _hints.ForgetHost(host);
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

    /// <summary>Graceful stop: leave our own ring (we own nothing from now on) and tell every peer.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        _leaving = true;
        Volatile.Write(ref _freshUntil, long.MaxValue);
        var ring = _view.Map.Leave(_time.GetTimestamp());
        var notice = new ClosingNotice { Host = _view.Self };
        var peers = ring.Members.Where(m => m != _view.Self).ToArray();
        await Task.WhenAll(peers.Select(async peer =>
        {
            try
            {
                await _clients.For(peer).ClosingAsync(notice, deadline: DateTime.UtcNow + _options.PingTimeout * 2, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                ClusterLog.ClosingNotDelivered(_logger, peer, ex.Status.Detail);
            }
        })).ConfigureAwait(false);
    }

    Task IHostedLifecycleService.StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StartedAsync(CancellationToken cancellationToken)
    {
        // A node without seeds is a whole cluster at once.
        if (_node.Seeds.Length == 0)
        {
            MarkJoined();
        }

        return Task.CompletedTask;
    }

    Task IHostedLifecycleService.StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Kestrel binds after hosted services start: wait until our own address is known.
        await Task.Delay(Timeout.Infinite, _lifetime.ApplicationStarted).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        if (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        var joinDeadline = _time.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var learntBefore = PeerCount();
                await TickAsync(forceNegotiate: !_joined, stoppingToken).ConfigureAwait(false);
                if (!_joined && (ConvergedSince(learntBefore) || _time.GetElapsedTime(joinDeadline) > _options.DeadAfter))
                {
                    MarkJoined();
                }

                var kick = Volatile.Read(ref _kick);
                await Task.WhenAny(Task.Delay(_options.PingInterval, _time, stoppingToken), kick.Task).ConfigureAwait(false);
                if (kick.Task.IsCompleted)
                {
                    Interlocked.CompareExchange(ref _kick, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), kick);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task TickAsync(bool forceNegotiate, CancellationToken cancellationToken)
    {
        if (_leaving)
        {
            return;
        }

        await _tickLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A node that knows no peer resolves its seeds every negotiate interval, not every 30 s: nodes started
            // together refuse each other's pings while joining, forget each other after the dead-after time and
            // each join alone; without this they stayed one-node clusters until the next resolve (seen: 26 s).
            var seedsDue = _lastSeedResolve == 0
                || _time.GetElapsedTime(_lastSeedResolve) >= (PeerCount() == 0 ? _options.NegotiateInterval : _options.SeedResolveInterval);
            if (_node.Seeds.Length > 0 && seedsDue)
            {
                _lastSeedResolve = _time.GetTimestamp();
                Learn(await ResolveSeedsAsync(cancellationToken).ConfigureAwait(false));
            }

            string[] peers;
            lock (_gate)
            {
                peers = _peers.Hosts;
            }

            // Freshness counts from when the pings left, not from when their answers were read: a node frozen
            // (SIGSTOP, a long GC) with pings in flight reads their pre-pause answers first thing on waking, and
            // must still find its view stale (the chaos pause test read stale carts through it before this).
            var sentAt = _time.GetTimestamp();
            var replies = await Task.WhenAll(peers.Select(p => PingAsync(p, cancellationToken))).ConfigureAwait(false);
            if (peers.Length == 0)
            {
                Volatile.Write(ref _freshUntil, long.MaxValue);
            }
            else if (replies.Any(r => r is not null))
            {
                Volatile.Write(ref _freshUntil, sentAt + _staleAfterTicks);
            }
            else if (Volatile.Read(ref _freshUntil) == long.MaxValue)
            {
                // Peers known, none answering yet: the clock starts now.
                Volatile.Write(ref _freshUntil, _time.GetTimestamp() + _staleAfterTicks);
            }

            _readiness.PollStore();
            bool changed;
            lock (_gate)
            {
                changed = ApplyPingResults(peers, replies);
                if (changed)
                {
                    PublishLocked();
                }
            }

            if (changed || forceNegotiate || !_selfConfirmed || _lastNegotiate == 0 || _time.GetElapsedTime(_lastNegotiate) >= _options.NegotiateInterval)
            {
                _lastNegotiate = _time.GetTimestamp();
                await NegotiateAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _tickLock.Release();
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
                    _hints.ForgetHost(e.Host);
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

    private async Task<string?> PingAsync(string host, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await _clients.For(host)
                .PingAsync(new Empty(), PeerProbe(), deadline: DateTime.UtcNow + _options.PingTimeout, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            return string.IsNullOrEmpty(reply.Host) ? host : reply.Host;
        }
        catch (RpcException)
        {
            return null;
        }
    }

    private async Task NegotiateAsync(CancellationToken cancellationToken)
    {
        string[] members;
        var request = new NegotiateRequest();
        lock (_gate)
        {
            // Only hosts that answered this node's pings: a name someone merely told us about is never passed on,
            // so one Negotiate naming hosts that never answer reaches no other member.
            request.KnownHosts.Add(_view.Self);
            request.KnownHosts.AddRange(_peers.Members.Order(StringComparer.Ordinal));
            members = [.. _peers.Alive];
        }

        var replies = await Task.WhenAll(members.Select(async host =>
        {
            try
            {
                return await _clients.For(host)
                    .NegotiateAsync(request, deadline: DateTime.UtcNow + _options.PingTimeout * 2, cancellationToken: cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (RpcException)
            {
                return null;
            }
        })).ConfigureAwait(false);
        Learn(replies.Where(r => r is not null).SelectMany(r => r!.Hosts));

        // Counted by every peer that answered (its healthy hosts name this node): serve this node's own carts.
        // A peer that stops counting it (it found this node silent) takes them back to their stand-ins.
        var self = _view.Self;
        var confirmed = replies.All(r => r is null || r.Hosts.Any(h => RingSnapshot.Normalize(h) == self));
        if (confirmed != _selfConfirmed)
        {
            lock (_gate)
            {
                _selfConfirmed = confirmed;
                PublishLocked();
            }
        }
    }

    private async Task<List<string>> ResolveSeedsAsync(CancellationToken cancellationToken)
    {
        var hosts = new List<string>();
        foreach (var seed in _node.Seeds)
        {
            if (!HostName.TryParse(seed, out var endpoint))
            {
                continue;
            }

            hosts.Add(seed);
            if (IPAddress.TryParse(endpoint.Host, out _))
            {
                continue;
            }

            try
            {
                // A headless service name resolves to every pod: each address is a candidate too.
                var addresses = await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
                if (addresses.Length > 1)
                {
                    hosts.AddRange(addresses.Select(a => a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]:{endpoint.Port}" : $"{a}:{endpoint.Port}"));
                }
            }
            catch (SocketException ex)
            {
                ClusterLog.SeedUnresolved(_logger, seed, ex.Message);
            }
        }

        return hosts;
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

    private void MarkJoined()
    {
        if (_joined)
        {
            return;
        }

        _joined = true;
        ClusterLog.Joined(_logger, _view.Self, _view.Ring.Members.Count);
        if (!_leaving)
        {
            _readiness.MarkJoined();
        }
    }

    /// <summary>Marks a membership Ping as a peer's (a node on its own disk refuses to be counted as a member).</summary>
    private Metadata PeerProbe() => _peerProbe ??= new Metadata { { ForwardingHeaders.Sender, _view.Self } };

    private Metadata? _peerProbe;

    private void Kick() => Volatile.Read(ref _kick).TrySetResult();

    /// <summary>
    /// On every ring change, before this node serves under the new ring: drop the carts it no longer serves.
    /// The drop is queued on every shard at once, behind the work already there, so no Apply admitted under
    /// the new ring runs on a copy the old ring left behind (and older ones are fenced by the store).
    /// </summary>
    private void DropNotServed() =>
        _ = _runtime.EvictWhereAsync(id => _view.Map.Lookup(id).Kind != OwnerKind.Local, EvictionReason.NotOwned);

    private async Task RecoverAsync()
    {
        // The peers may have removed this node while it was away: serve nothing of its own until they count it again.
        lock (_gate)
        {
            _selfConfirmed = false;
            PublishLocked();
        }

        var dropped = await _runtime.EvictAllAsync(EvictionReason.StaleView).ConfigureAwait(false);
        ClusterLog.StaleViewDropped(_logger, dropped);
        await TickAsync(forceNegotiate: true, CancellationToken.None).ConfigureAwait(false);
        Volatile.Write(ref _freshUntil, _time.GetTimestamp() + _staleAfterTicks);
    }

    public override void Dispose()
    {
        _tickLock.Dispose();
        base.Dispose();
    }
}

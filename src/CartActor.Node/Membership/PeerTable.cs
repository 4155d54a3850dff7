using CartActor.Node.Hosting;
using CartActor.Ownership;

namespace CartActor.Node.Membership;

/// <summary>The states of a known host. A host removed from the table (dead, closing, forgotten) has none.</summary>
internal enum PeerStatus
{
    /// <summary>Learnt (seed, Negotiate, announcement) but has not answered a Ping yet: owns nothing.</summary>
    Candidate,

    /// <summary>Answers its pings: a member that owns carts.</summary>
    Alive,

    /// <summary>Missed its pings, or refused a connection: still a member, its carts served by their stand-ins.</summary>
    Suspect,
}

/// <summary>What one round of ping results changed, for the caller to log and act on.</summary>
internal sealed record PeerEvent(PeerEventKind Kind, string Host, string Detail = "");

internal enum PeerEventKind
{
    Alive,
    Suspect,
    Dead,
    Forgotten,

    /// <summary>A pinged address answered as another name (or as this node) and left the table under that address.</summary>
    Replaced,
}

/// <summary>
/// The peer table: which hosts this node knows and in what state (candidate, alive, suspect; dead ones are
/// removed). A pure type: no I/O, no threads; it changes only through the methods below, driven by ping
/// results and the injected clock. Not thread-safe: its owner (<see cref="ClusterMembership"/>) serialises
/// every call. Rules: a candidate becomes a member only by answering a Ping itself, and is forgotten after
/// the dead-after time without one; a member that misses <see cref="ClusterOptions.SuspectAfterMisses"/>
/// pings in a row (or refuses a connection) is suspect; a suspect silent for the dead-after time since it
/// was last heard is dead; an answer makes any of them alive.
/// </summary>
/// Candidates are capped apart (<paramref name="maxCandidates"/>): a Negotiate naming a thousand hosts that never
/// answer costs at most that many pings per heartbeat until they are forgotten, and no member slot.
internal sealed class PeerTable(ClusterOptions options, int maxKnownHosts, TimeProvider time, int maxCandidates = int.MaxValue)
{
    private readonly Dictionary<string, Peer> _peers = new(StringComparer.Ordinal);

    public int Count => _peers.Count;

    /// <summary>Every known host, for pinging.</summary>
    public string[] Hosts => [.. _peers.Keys];

    public PeerStatus? StatusOf(string host) => _peers.TryGetValue(RingSnapshot.Normalize(host), out var peer) ? peer.Status : null;

    /// <summary>The ring's members other than self: alive and suspect hosts.</summary>
    public string[] Members => [.. _peers.Values.Where(p => p.Status is PeerStatus.Alive or PeerStatus.Suspect).Select(p => p.Host)];

    public HashSet<string> Suspects => _peers.Values.Where(p => p.Status == PeerStatus.Suspect).Select(p => p.Host).ToHashSet(StringComparer.Ordinal);

    /// <summary>Members that answer, in ordinal order.</summary>
    public IEnumerable<string> Alive => _peers.Values.Where(p => p.Status == PeerStatus.Alive).Select(p => p.Host).Order(StringComparer.Ordinal);

    /// <summary>True when every known host has answered or been forgotten (no candidate left).</summary>
    public bool NoCandidates => _peers.Values.All(p => p.Status != PeerStatus.Candidate);

    /// <summary>Adds hosts as candidates; returns how many were new. Self, known and malformed hosts are skipped; the table is bounded.</summary>
    public int Learn(IEnumerable<string> hosts, string self)
    {
        var learnt = 0;
        var candidates = _peers.Values.Count(p => p.Status == PeerStatus.Candidate);
        foreach (var raw in hosts)
        {
            if (_peers.Count >= maxKnownHosts || candidates >= maxCandidates)
            {
                break;
            }

            var host = RingSnapshot.Normalize(raw);
            if (host == self || _peers.ContainsKey(host) || !HostName.TryParse(host, out _))
            {
                continue;
            }

            _peers[host] = new Peer(host, time.GetTimestamp());
            candidates++;
            learnt++;
        }

        return learnt;
    }

    /// <summary>A host said Closing: removed at once. True when it was known.</summary>
    public bool Remove(string host) => _peers.Remove(RingSnapshot.Normalize(host));

    /// <summary>A connection to an alive member was refused or reset: suspect at once. True when that changed it.</summary>
    public bool MarkUnreachable(string host)
    {
        if (!_peers.TryGetValue(RingSnapshot.Normalize(host), out var peer) || peer.Status != PeerStatus.Alive)
        {
            return false;
        }

        peer.Status = PeerStatus.Suspect;
        peer.Misses = Math.Max(peer.Misses, options.SuspectAfterMisses);
        return true;
    }

    /// <summary>
    /// One round of pings: for each host pinged, the host it answered as (its advertised name), or null when
    /// it did not answer. Returns what changed the member set or its liveness; <paramref name="changed"/>
    /// says whether the ring must be published again.
    /// </summary>
    public List<PeerEvent> ApplyPings(IReadOnlyList<(string Host, string? AnsweredAs)> results, string self, out bool changed)
    {
        var now = time.GetTimestamp();
        var events = new List<PeerEvent>();
        changed = false;
        foreach (var (pinged, reported) in results)
        {
            if (!_peers.TryGetValue(pinged, out var peer))
            {
                continue;
            }

            var answeredAs = reported is null ? null : RingSnapshot.Normalize(reported);
            if (answeredAs is not null && answeredAs == self)
            {
                // A seed that resolved to this very node.
                _peers.Remove(peer.Host);
                events.Add(new PeerEvent(PeerEventKind.Replaced, peer.Host));
                continue;
            }

            if (answeredAs is not null && answeredAs != peer.Host)
            {
                // An address (say a seed's IP) answered with its advertised name: the name is the member.
                _peers.Remove(peer.Host);
                events.Add(new PeerEvent(PeerEventKind.Replaced, peer.Host));
                if (!_peers.TryGetValue(answeredAs, out var named))
                {
                    named = new Peer(answeredAs, now);
                    _peers[answeredAs] = named;
                }

                peer = named;
            }

            if (answeredAs is not null)
            {
                peer.Misses = 0;
                peer.LastHeard = now;
                if (peer.Status != PeerStatus.Alive)
                {
                    events.Add(new PeerEvent(PeerEventKind.Alive, peer.Host, peer.Status.ToString()));
                    peer.Status = PeerStatus.Alive;
                    changed = true;
                }

                continue;
            }

            peer.Misses++;
            switch (peer.Status)
            {
                case PeerStatus.Candidate when time.GetElapsedTime(peer.FirstKnown) >= options.DeadAfter:
                    _peers.Remove(peer.Host);
                    events.Add(new PeerEvent(PeerEventKind.Forgotten, peer.Host));
                    break;
                case PeerStatus.Alive when peer.Misses >= options.SuspectAfterMisses:
                    peer.Status = PeerStatus.Suspect;
                    events.Add(new PeerEvent(PeerEventKind.Suspect, peer.Host, peer.Misses.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    changed = true;
                    break;
                case PeerStatus.Suspect when time.GetElapsedTime(peer.LastHeard) >= options.DeadAfter:
                    _peers.Remove(peer.Host);
                    events.Add(new PeerEvent(PeerEventKind.Dead, peer.Host));
                    changed = true;
                    break;
            }
        }

        return events;
    }

    /// <summary>One line per known host (state, misses, seconds since last heard and since first known), for a failure report.</summary>
    public string Describe()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return string.Join("; ", _peers.Values.OrderBy(p => p.Host, StringComparer.Ordinal).Select(p => string.Create(
            inv,
            $"{p.Host} {p.Status} misses={p.Misses} heard={time.GetElapsedTime(p.LastHeard).TotalSeconds:0.00}s known={time.GetElapsedTime(p.FirstKnown).TotalSeconds:0.00}s")));
    }

    private sealed class Peer(string host, long firstKnown)
    {
        public string Host { get; } = host;
        public long FirstKnown { get; } = firstKnown;
        public PeerStatus Status { get; set; } = PeerStatus.Candidate;
        public int Misses { get; set; }
        public long LastHeard { get; set; } = firstKnown;
    }
}

using CartActor.Node.Hosting;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Membership;

/// <summary>
/// Who peers say holds a live copy of which cart (AnnounceOwnership / AnnounceExpiry). Hints only: the
/// seed contract says first claim wins and a receiver should not overwrite a different owner. Bounded every
/// way a sender could grow it: claims count only from current ring members (a host that never joins leaves
/// nothing behind), at most <see cref="NodeOptions.MaxOwnershipHintsPerHost"/> per host and
/// <see cref="NodeOptions.MaxOwnershipHints"/> in all (new claims beyond are ignored), and a hint older than
/// <see cref="ClusterOptions.HintTtl"/> expires. Changed at announcement pace under one lock, never on the
/// request path.
/// </summary>
public sealed class OwnershipHints
{
    private readonly Dictionary<ulong, Hint> _owners = [];
    private readonly Dictionary<string, int> _perHost = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly ClusterView _view;
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly int _perHostCapacity;
    private readonly TimeSpan _ttl;
    private long _lastSweep;

    public OwnershipHints(IOptions<NodeOptions> options, IOptions<ClusterOptions> cluster, ClusterView view, TimeProvider time)
    {
        _capacity = options.Value.MaxOwnershipHints;
        _perHostCapacity = options.Value.MaxOwnershipHintsPerHost;
        _ttl = cluster.Value.HintTtl;
        _view = view;
        _time = time;
        _lastSweep = time.GetTimestamp();
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _owners.Count;
            }
        }
    }

    public bool TryGetOwner(ulong cartId, out string host)
    {
        lock (_gate)
        {
            var found = _owners.TryGetValue(cartId, out var hint) && _time.GetElapsedTime(hint.At) < _ttl;
            host = found ? hint.Host : string.Empty;
            return found;
        }
    }

    /// <summary>Records first claims of a ring member; counts what was recorded, what conflicted, and what was ignored.</summary>
    public ClaimResult Claim(string host, IReadOnlyList<ulong> ids)
    {
        host = Ownership.RingSnapshot.Normalize(host);
        if (!_view.Ring.Contains(host) || host == _view.Self)
        {
            return new ClaimResult(0, 0, ids.Count, NotAMember: true);
        }

        int claimed = 0, conflicts = 0, dropped = 0;
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            SweepIfDueLocked(now);
            var held = _perHost.GetValueOrDefault(host);
            foreach (var id in ids)
            {
                if (_owners.TryGetValue(id, out var existing))
                {
                    if (existing.Host != host)
                    {
                        conflicts++;
                    }

                    continue;
                }

                if (_owners.Count >= _capacity || held >= _perHostCapacity)
                {
                    dropped++;
                    continue;
                }

                _owners[id] = new Hint(host, now);
                held++;
                claimed++;
            }

            _perHost[host] = held;
        }

        return new ClaimResult(claimed, conflicts, dropped, NotAMember: false);
    }

    /// <summary>Drops hints that name <paramref name="host"/> for the given ids; returns how many went.</summary>
    public int Expire(string host, IReadOnlyList<ulong> ids)
    {
        host = Ownership.RingSnapshot.Normalize(host);
        var removed = 0;
        lock (_gate)
        {
            foreach (var id in ids)
            {
                if (_owners.TryGetValue(id, out var hint) && hint.Host == host)
                {
                    RemoveLocked(id, hint);
                    removed++;
                }
            }
        }

        return removed;
    }

    /// <summary>Forgets every hint naming a host that left.</summary>
    public int ForgetHost(string host)
    {
        host = Ownership.RingSnapshot.Normalize(host);
        lock (_gate)
        {
            if (!_perHost.ContainsKey(host))
            {
                return 0;
            }

            var gone = _owners.Where(o => o.Value.Host == host).Select(o => o.Key).ToList();
            foreach (var id in gone)
            {
                _owners.Remove(id);
            }

            _perHost.Remove(host);
            return gone.Count;
        }
    }

    private void SweepIfDueLocked(long now)
    {
        if (_time.GetElapsedTime(_lastSweep, now) < _ttl / 4)
        {
            return;
        }

        _lastSweep = now;
        var expired = _owners.Where(o => _time.GetElapsedTime(o.Value.At, now) >= _ttl).ToList();
        foreach (var (id, hint) in expired)
        {
            RemoveLocked(id, hint);
        }
    }

    private void RemoveLocked(ulong id, Hint hint)
    {
        _owners.Remove(id);
        var left = _perHost.GetValueOrDefault(hint.Host) - 1;
        if (left > 0)
        {
            _perHost[hint.Host] = left;
        }
        else
        {
            _perHost.Remove(hint.Host);
        }
    }

    private readonly record struct Hint(string Host, long At);
}

/// <summary>What one AnnounceOwnership recorded.</summary>
public readonly record struct ClaimResult(int Claimed, int Conflicts, int Dropped, bool NotAMember);

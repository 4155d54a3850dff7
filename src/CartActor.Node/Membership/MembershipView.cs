using System.Collections.Concurrent;
using CartActor.Node.Hosting;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Membership;

/// <summary>
/// The hosts this node knows of, itself included. Single-node for now: Negotiate and seeds add names,
/// Closing removes them. Bounded, so a client cannot grow it without limit.
/// </summary>
public sealed class MembershipView
{
    private readonly NodeIdentity _identity;
    private readonly NodeOptions _options;
    private readonly ConcurrentDictionary<string, byte> _known = new(StringComparer.OrdinalIgnoreCase);

    public MembershipView(NodeIdentity identity, IOptions<NodeOptions> options)
    {
        _identity = identity;
        _options = options.Value;
        foreach (var seed in _options.Seeds)
        {
            TryAdd(seed);
        }
    }

    public int Count => _known.Count;

    /// <summary>Adds a host learnt from a peer; false when the view is full.</summary>
    public bool TryAdd(string host)
    {
        if (string.Equals(host, _identity.AdvertisedHost, StringComparison.OrdinalIgnoreCase) || _known.ContainsKey(host))
        {
            return true;
        }

        if (_known.Count >= _options.MaxKnownHosts)
        {
            return false;
        }

        _known.TryAdd(host, 0);
        return true;
    }

    public bool Remove(string host) => _known.TryRemove(host, out _);

    /// <summary>This node first, then every other known host in a stable order.</summary>
    public List<string> Snapshot()
    {
        var hosts = new List<string>(_known.Count + 1) { _identity.AdvertisedHost };
        hosts.AddRange(_known.Keys.Order(StringComparer.OrdinalIgnoreCase));
        return hosts;
    }
}

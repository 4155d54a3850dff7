using System.Collections.Concurrent;
using CartActor.Node.Hosting;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Membership;

/// <summary>
/// Who peers say holds a live copy of which cart (AnnounceOwnership / AnnounceExpiry). Hints only: the
/// seed contract says first claim wins and a receiver should not overwrite a different owner. Bounded;
/// once full, new claims are ignored until expiries make room.
/// </summary>
public sealed class OwnershipHints
{
    private readonly ConcurrentDictionary<ulong, string> _owners = new();
    private readonly int _capacity;

    public OwnershipHints(IOptions<NodeOptions> options)
    {
        _capacity = options.Value.MaxOwnershipHints;
    }

    public int Count => _owners.Count;

    public bool TryGetOwner(ulong cartId, out string host) => _owners.TryGetValue(cartId, out host!);

    /// <summary>Records first claims; returns how many ids were newly recorded, and how many conflicted.</summary>
    public (int Claimed, int Conflicts, int Dropped) Claim(string host, IReadOnlyList<ulong> ids)
    {
        int claimed = 0, conflicts = 0, dropped = 0;
        foreach (var id in ids)
        {
            if (_owners.TryGetValue(id, out var existing))
            {
                if (!string.Equals(existing, host, StringComparison.OrdinalIgnoreCase))
                {
                    conflicts++;
                }

                continue;
            }

            if (_owners.Count >= _capacity)
            {
                dropped++;
                continue;
            }

            if (_owners.TryAdd(id, host))
            {
                claimed++;
            }
        }

        return (claimed, conflicts, dropped);
    }

    /// <summary>Drops hints that name <paramref name="host"/> for the given ids; returns how many went.</summary>
    public int Expire(string host, IReadOnlyList<ulong> ids)
    {
        var removed = 0;
        foreach (var id in ids)
        {
            if (_owners.TryRemove(new KeyValuePair<ulong, string>(id, host)))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Forgets every hint naming a host that left.</summary>
    public int ForgetHost(string host)
    {
        var removed = 0;
        foreach (var (id, owner) in _owners)
        {
            if (string.Equals(owner, host, StringComparison.OrdinalIgnoreCase) && _owners.TryRemove(new KeyValuePair<ulong, string>(id, owner)))
            {
                removed++;
            }
        }

        return removed;
    }
}

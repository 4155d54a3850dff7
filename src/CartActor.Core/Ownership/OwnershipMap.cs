namespace CartActor.Ownership;

/// <summary>
/// The node's current ring, published atomically. Readers do one volatile read and never lock; the
/// membership service is the only writer and swaps in whole new snapshots. Keeps the previous few rings so
/// a new owner knows whom to take a cart's state from.
/// </summary>
public sealed class OwnershipMap
{
    private const int HistoryDepth = 4;
    private RingSnapshot _current;
    private RingSnapshot[] _history = [];

    public OwnershipMap(string self)
    {
        _current = RingSnapshot.Create([], self, epoch: 1);
    }

    public RingSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Earlier rings with a different member set, newest first.</summary>
    public IReadOnlyList<RingSnapshot> History => Volatile.Read(ref _history);

    public event Action<RingSnapshot, RingSnapshot>? Changed;

    public OwnerLookup Lookup(ulong cartId) => Volatile.Read(ref _current).Lookup(cartId);

    /// <summary>Publishes a new member set (and liveness); returns the new snapshot. Single writer.</summary>
    public RingSnapshot Publish(IEnumerable<string> members, IReadOnlySet<string> suspects, long now = 0)
    {
        var previous = _current;
        if (previous.IsLeaving)
        {
            return previous;
        }

        var memberList = members.Select(RingSnapshot.Normalize).Append(previous.Self).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        RingSnapshot next;
        if (memberList.SequenceEqual(previous.Members, StringComparer.Ordinal))
        {
            if (SameSuspects(previous, suspects))
            {
                return previous;
            }

            next = previous.WithSuspects(suspects, previous.Epoch + 1);
            Volatile.Write(ref _current, next);
            return next;
        }

        next = RingSnapshot.Create(memberList, previous.Self, previous.Epoch + 1, suspects, publishedAt: now);
        Swap(previous, next);
        return next;
    }

    /// <summary>
    /// Graceful stop: this node leaves its own ring, so from now on it owns nothing and forwards every
    /// cart to the owner among the remaining members. Final: later publishes are ignored.
    /// </summary>
    public RingSnapshot Leave(long now = 0)
    {
        var previous = _current;
        if (previous.IsLeaving || previous.Members.Count == 1)
        {
            return previous;
        }

        var next = RingSnapshot.Create(previous.Members, previous.Self, previous.Epoch + 1, suspects: null, includeSelf: false, publishedAt: now);
        Swap(previous, next);
        return next;
    }

    private void Swap(RingSnapshot previous, RingSnapshot next)
    {
        Volatile.Write(ref _history, [previous, .. _history.Take(HistoryDepth - 1)]);
        Volatile.Write(ref _current, next);
        Changed?.Invoke(previous, next);
    }

    private static bool SameSuspects(RingSnapshot ring, IReadOnlySet<string> suspects)
    {
        for (var i = 0; i < ring.Members.Count; i++)
        {
            if (i != ring.SelfIndex && ring.IsSuspect(i) != suspects.Contains(ring.Members[i]))
            {
                return false;
            }
        }

        return true;
    }
}

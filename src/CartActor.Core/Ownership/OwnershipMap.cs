namespace CartActor.Ownership;

/// <summary>
/// The node's current ring, published atomically. Readers do one volatile read and never lock. Writers
/// (the membership heartbeat, a peer's Closing, this node's own leave) each build a new snapshot from the
/// one they read and swap it in with compare-and-swap, retrying on a lost race, so no writer overwrites
/// another's change. <see cref="Leave"/> is final: once this node has left, no later publish brings it back.
/// </summary>
public sealed class OwnershipMap
{
    private RingSnapshot _current;
    private volatile bool _left;

    public OwnershipMap(string self)
    {
        _current = RingSnapshot.Create([], self, epoch: 1);
    }

    public RingSnapshot Current => Volatile.Read(ref _current);

    /// <summary>True once <see cref="Leave"/> was called (even on a ring of one, where nothing changes).</summary>
    public bool HasLeft => _left;

    /// <summary>Raised after each swap (old ring, new ring). Handlers may run concurrently and out of order: read <see cref="Current"/>.</summary>
    public event Action<RingSnapshot, RingSnapshot>? Changed;

    public OwnerLookup Lookup(ulong cartId) => Volatile.Read(ref _current).Lookup(cartId);

    /// <summary>Publishes a new member set (and liveness); returns the snapshot now current.</summary>
    public RingSnapshot Publish(IEnumerable<string> members, IReadOnlySet<string> suspects, long now = 0)
    {
        ArgumentNullException.ThrowIfNull(suspects);
        var wanted = members.Select(RingSnapshot.Normalize).ToArray();
        while (true)
        {
            var previous = Volatile.Read(ref _current);
            if (previous.IsLeaving || _left)
            {
                return previous;
            }

            var memberList = wanted.Append(previous.Self).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            RingSnapshot next;
            if (memberList.SequenceEqual(previous.Members, StringComparer.Ordinal))
            {
                if (SameSuspects(previous, suspects))
                {
                    return previous;
                }

                next = previous.WithSuspects(suspects, previous.Epoch + 1);
            }
            else
            {
                next = RingSnapshot.Create(memberList, previous.Self, previous.Epoch + 1, suspects, publishedAt: now);
            }

            if (TrySwap(previous, next))
            {
                return next;
            }
        }
    }

    /// <summary>
    /// Graceful stop: this node leaves its own ring, so from now on it owns nothing and forwards every
    /// cart to its owner among the remaining members. Final: later publishes are ignored.
    /// </summary>
    public RingSnapshot Leave(long now = 0)
    {
        _left = true;
        while (true)
        {
            var previous = Volatile.Read(ref _current);
            if (previous.IsLeaving || previous.Members.Count == 1)
            {
                // Alone, the node keeps serving what it has until it exits: there is nobody to forward to.
                return previous;
            }

            var next = RingSnapshot.Create(previous.Members, previous.Self, previous.Epoch + 1, suspects: SuspectsOf(previous), includeSelf: false, publishedAt: now);
            if (TrySwap(previous, next))
            {
                return next;
            }
        }
    }

    private bool TrySwap(RingSnapshot previous, RingSnapshot next)
    {
        if (!ReferenceEquals(Interlocked.CompareExchange(ref _current, next, previous), previous))
        {
            return false;
        }

        Changed?.Invoke(previous, next);
        return true;
    }

    private static HashSet<string> SuspectsOf(RingSnapshot ring)
    {
        var suspects = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < ring.Members.Count; i++)
        {
            if (ring.IsSuspect(i))
            {
                suspects.Add(ring.Members[i]);
            }
        }

        return suspects;
    }

    private static bool SameSuspects(RingSnapshot ring, IReadOnlySet<string> suspects)
    {
        for (var i = 0; i < ring.Members.Count; i++)
        {
            if (ring.IsSuspect(i) != suspects.Contains(ring.Members[i]))
            {
                return false;
            }
        }

        return true;
    }
}

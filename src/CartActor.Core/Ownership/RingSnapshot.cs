using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using CartActor.Hashing;

namespace CartActor.Ownership;

/// <summary>
/// One immutable view of the ring: the member set, the slot table and the epoch. A pure function of the
/// member set: cart -> slot by jump hash over <see cref="SlotCount"/> fixed slots, slot -> member by
/// rendezvous (highest random weight) hashing of xxHash64(slot, member seed). Rendezvous makes the table
/// independent of the order members were learnt in, moves only the slots of a member that leaves (or the
/// slots a joining member wins), and never moves a slot between two members that both stayed.
/// Built once per membership change; lookups read it without locks. A Suspect member (missed its pings)
/// keeps its slots in the table, but a lookup routes them to the next rendezvous choice among the members
/// that answer: the shared store fences every write, so the stand-in can serve them safely at once. This
/// node itself may be marked suspect too: it is a member whose peers do not count it yet (it has just
/// joined, or woken from a pause), so its slots go to their stand-ins until they do.
/// </summary>
public sealed class RingSnapshot
{
    /// <summary>2^16 slots: with 16 members the busiest holds about 1.04 x the mean.</summary>
    public const int SlotCount = 1 << 16;

    private readonly ushort[] _slotOwners;
    private readonly bool[] _suspect;

    // The serving member of each slot whose owner is Suspect (the next rendezvous choice); null when none is.
    private readonly ushort[]? _standIns;

    private RingSnapshot(string[] members, ushort[] slotOwners, bool[] suspect, int selfIndex, long epoch, ulong ringId)
    {
        Members = members;
        _slotOwners = slotOwners;
        _suspect = suspect;
        _standIns = suspect.AsSpan().Contains(true) ? BuildStandIns(members, slotOwners, suspect) : null;
        SelfIndex = selfIndex;
        Epoch = epoch;
        RingId = ringId;
    }

    /// <summary>Members in ordinal order (lower-cased host names).</summary>
    public IReadOnlyList<string> Members { get; }

    public int SelfIndex { get; }

    /// <summary>This node's host; -1 <see cref="SelfIndex"/> means it has left the ring (it owns nothing).</summary>
    public string Self { get; private init; } = string.Empty;

    public bool IsLeaving => SelfIndex < 0;

    /// <summary>When this view was published (TimeProvider timestamp).</summary>
    public long PublishedAt { get; private init; }

    /// <summary>Local, monotonically increasing version of this node's view.</summary>
    public long Epoch { get; }

    /// <summary>A hash of the member set: equal on every node that sees the same set.</summary>
    public ulong RingId { get; }

    public bool IsSuspect(int memberIndex) => _suspect[memberIndex];

    /// <summary>Slots each member owns (by member index): its share of the ring. Counts the table; for operators' views, not lookups.</summary>
    public int[] SlotsPerMember()
    {
        var counts = new int[Members.Count];
        foreach (var owner in _slotOwners)
        {
            counts[owner]++;
        }

        return counts;
    }

    /// <summary>Builds the ring for a member set (self must be in it).</summary>
    public static RingSnapshot Create(IEnumerable<string> members, string self, long epoch, IReadOnlySet<string>? suspects = null, bool includeSelf = true, long publishedAt = 0)
    {
        var sorted = (includeSelf ? members.Append(self) : members.Where(m => !string.Equals(Normalize(m), Normalize(self), StringComparison.Ordinal)))
            .Select(Normalize)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (sorted.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"a ring holds at most {ushort.MaxValue} members", nameof(members));
        }

        var normalizedSelf = Normalize(self);
        var selfIndex = Array.IndexOf(sorted, normalizedSelf);
        if (sorted.Length == 0)
        {
            throw new ArgumentException("a ring needs at least one member", nameof(members));
        }

        var seeds = sorted.Select(MemberSeed).ToArray();
        var owners = new ushort[SlotCount];
        for (var slot = 0; slot < SlotCount; slot++)
        {
            owners[slot] = (ushort)HighestWeight(seeds, slot, excluded: null);
        }

        var suspect = new bool[sorted.Length];
        if (suspects is not null)
        {
            for (var i = 0; i < sorted.Length; i++)
            {
                suspect[i] = suspects.Contains(sorted[i]);
            }
        }

        return new RingSnapshot(sorted, owners, suspect, selfIndex, epoch, RingIdOf(sorted)) { Self = normalizedSelf, PublishedAt = publishedAt };
    }

    /// <summary>The same ring with other liveness flags: the slot table is shared, not rebuilt.</summary>
    public RingSnapshot WithSuspects(IReadOnlySet<string> suspects, long epoch)
    {
        var suspect = new bool[Members.Count];
        for (var i = 0; i < suspect.Length; i++)
        {
            suspect[i] = suspects.Contains(Members[i]);
        }

        return new RingSnapshot((string[])Members, _slotOwners, suspect, SelfIndex, epoch, RingId) { Self = Self, PublishedAt = PublishedAt };
    }

    public static int SlotOf(ulong cartId) => JumpHash.Bucket(CartHash.Hash(cartId, CartHash.RingSeed), SlotCount);

    public int OwnerIndexOf(ulong cartId) => _slotOwners[SlotOf(cartId)];

    public string OwnerOf(ulong cartId) => Members[OwnerIndexOf(cartId)];

    /// <summary>Who serves the cart now: its owner, or the stand-in for a Suspect owner.</summary>
    public OwnerLookup Lookup(ulong cartId)
    {
        var slot = SlotOf(cartId);
        int owner = _slotOwners[slot];
        if (_suspect[owner])
        {
            owner = _standIns![slot];
        }

        return new OwnerLookup(owner == SelfIndex ? OwnerKind.Local : OwnerKind.Remote, owner, this);
    }

    public bool Contains(string host) => Array.BinarySearch((string[])Members, Normalize(host), StringComparer.Ordinal) >= 0;

    public static string Normalize(string host) => host.Trim().ToLowerInvariant();

    private static ushort[] BuildStandIns(string[] members, ushort[] slotOwners, bool[] suspect)
    {
        var standIns = new ushort[SlotCount];
        if (!suspect.AsSpan().Contains(false))
        {
            // Nobody answers: the owners stay (their carts fail at the owner rather than move nowhere).
            slotOwners.CopyTo(standIns, 0);
            return standIns;
        }

        var seeds = members.Select(MemberSeed).ToArray();
        for (var slot = 0; slot < SlotCount; slot++)
        {
            var owner = slotOwners[slot];
            standIns[slot] = suspect[owner] ? (ushort)HighestWeight(seeds, slot, suspect) : owner;
        }

        return standIns;
    }

    /// <summary>Rendezvous: the member with the highest xxHash64(slot, member seed), skipping excluded ones.</summary>
    private static int HighestWeight(long[] seeds, int slot, bool[]? excluded)
    {
        Span<byte> slotBytes = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(slotBytes, slot);
        ulong best = 0;
        var bestIndex = -1;
        for (var m = 0; m < seeds.Length; m++)
        {
            if (excluded is not null && excluded[m])
            {
                continue;
            }

            var weight = XxHash64.HashToUInt64(slotBytes, seeds[m]);
            if (bestIndex < 0 || weight > best)
            {
                best = weight;
                bestIndex = m;
            }
        }

        return bestIndex;
    }

    private static long MemberSeed(string member) =>
        (long)XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(member), CartHash.RingSeed);

    private static ulong RingIdOf(string[] sorted) =>
        XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(string.Join('\n', sorted)), CartHash.RingSeed);
}

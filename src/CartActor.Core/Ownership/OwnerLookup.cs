namespace CartActor.Ownership;

public enum OwnerKind : byte
{
    /// <summary>This node owns the cart: apply it here.</summary>
    Local,

    /// <summary>A live peer owns it: forward.</summary>
    Remote,

    /// <summary>The owner missed its pings: fail fast with UNAVAILABLE naming it, never hang.</summary>
    Suspect,
}

/// <summary>The answer of one ownership lookup: no exception, no allocation.</summary>
public readonly struct OwnerLookup(OwnerKind kind, int ownerIndex, RingSnapshot ring)
{
    public OwnerKind Kind { get; } = kind;

    public int OwnerIndex { get; } = ownerIndex;

    public RingSnapshot Ring { get; } = ring;

    public string Owner => Ring.Members[OwnerIndex];
}

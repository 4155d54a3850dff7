namespace CartActor.Ownership;

public enum OwnerKind : byte
{
    /// <summary>This node owns the cart: apply it here.</summary>
    Local,

    /// <summary>A peer serves it (its owner, or the stand-in for a Suspect owner): forward.</summary>
    Remote,
}

/// <summary>The answer of one ownership lookup: no exception, no allocation.</summary>
public readonly struct OwnerLookup(OwnerKind kind, int ownerIndex, RingSnapshot ring)
{
    public OwnerKind Kind { get; } = kind;

    public int OwnerIndex { get; } = ownerIndex;

    public RingSnapshot Ring { get; } = ring;

    /// <summary>The member that serves the cart under this ring.</summary>
    public string Owner => Ring.Members[OwnerIndex];
}

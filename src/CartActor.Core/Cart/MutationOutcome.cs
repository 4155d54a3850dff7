namespace CartActor.Cart;

/// <summary>What one mutation did to a cart. A failed mutation left the cart exactly as it was.</summary>
public readonly struct MutationOutcome
{
    public static readonly MutationOutcome Changed = new(true, null);
    public static readonly MutationOutcome Unchanged = new(false, null);

    private MutationOutcome(bool changed, string? error, bool abortsBatch = false)
    {
        IsChanged = changed;
        Error = error;
        AbortsBatch = abortsBatch;
    }

    /// <summary>A refusal that fails the whole batch when nothing in it has changed the cart yet (a version precondition).</summary>
    public bool AbortsBatch { get; }

    public bool IsChanged { get; }

    /// <summary>A clear, specific reason, set only when the mutation was refused.</summary>
    public string? Error { get; }

    public bool IsFailed => Error is not null;

    public static MutationOutcome Fail(string error) => new(false, error);

    public static MutationOutcome Abort(string error) => new(false, error, abortsBatch: true);
}

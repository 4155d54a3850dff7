namespace CartActor.Client;

/// <summary>How a <see cref="CartClient"/> bounds its calls. Every value has a working default.</summary>
public sealed class CartClientOptions
{
    /// <summary>
    /// The deadline of one logical call, all its attempts and back-offs included, unless the call names its own
    /// (<see cref="CartCallOptions.Timeout"/>). Default 5 s.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts of one logical call, the first included, while a node answers UNAVAILABLE or cannot be reached. Default 4.</summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>The back-off ceiling before the second attempt; it doubles per attempt up to <see cref="MaxBackoff"/>. Default 50 ms.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The largest back-off between two attempts. Default 1 s.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws when a value cannot work, naming it.</summary>
    internal void Validate()
    {
        if (Timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "CartClientOptions.Timeout must be positive");
        if (MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "CartClientOptions.MaxAttempts must be at least 1");
        if (InitialBackoff < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(InitialBackoff), InitialBackoff, "CartClientOptions.InitialBackoff must not be negative");
        if (MaxBackoff < InitialBackoff) throw new ArgumentOutOfRangeException(nameof(MaxBackoff), MaxBackoff, "CartClientOptions.MaxBackoff must be at least InitialBackoff");
    }
}

/// <summary>Per-call settings; all optional.</summary>
public sealed class CartCallOptions
{
    /// <summary>Refuse the change (ABORTED) unless the cart is at this version: optimistic concurrency for a page that showed one version.</summary>
    public ulong? ExpectedVersion { get; init; }

    /// <summary>
    /// The idempotency key of this logical change. Default: a new one per call, reused by every retry of it. Set it
    /// to your own (an order step's id) to make a change exactly-once across your process's restarts too.
    /// </summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>This call's deadline, all attempts included; default <see cref="CartClientOptions.Timeout"/>.</summary>
    public TimeSpan? Timeout { get; init; }
}

using CartActor.ControlPlane;

namespace CartActor.Packing;

/// <summary>
/// The answer to an Apply: the wire <see cref="ApplyResult"/> and the lease that keeps the pooled bytes of
/// its state alive. Dispose after the result has been written out.
/// </summary>
public readonly struct ApplyOutcome : IDisposable
{
    private readonly PackedState? _state;

    internal ApplyOutcome(ApplyResult result, PackedState? state, bool isReplay = false)
    {
        Result = result;
        _state = state;
        IsReplay = isReplay;
    }

    public ApplyResult Result { get; }

    /// <summary>True when the result was replayed for a repeated idempotency key: nothing was applied.</summary>
    public bool IsReplay { get; }

    public void Dispose() => _state?.Release();

    /// <summary>The state reference as an <see cref="IDisposable"/> (dispose exactly once), for APIs that dispose later.</summary>
    public IDisposable? AsDisposable() => _state;
}

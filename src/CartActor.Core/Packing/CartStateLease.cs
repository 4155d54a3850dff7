using Google.Protobuf.WellKnownTypes;

namespace CartActor.Packing;

/// <summary>
/// A reader's hold on one packed cart state. Dispose it after the state has been written out (for gRPC,
/// after the response is sent); until then the bytes inside <see cref="State"/> stay valid.
/// </summary>
public readonly struct CartStateLease : IDisposable
{
    private readonly PackedState? _packed;

    internal CartStateLease(PackedState packed)
    {
        _packed = packed;
    }

    public Any State => _packed?.Any ?? throw new InvalidOperationException("The lease holds no state.");

    public ulong Version => _packed?.Version ?? 0;

    public void Dispose() => _packed?.Release();

    /// <summary>The reference as an <see cref="IDisposable"/> (dispose exactly once), for APIs that dispose later.</summary>
    public IDisposable? AsDisposable() => _packed;
}

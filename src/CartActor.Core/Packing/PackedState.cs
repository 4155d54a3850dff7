using System.Buffers;
using CartActor.Cart.Messages;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Packing;

/// <summary>
/// One version of a cart's state, encoded once into a buffer rented from <see cref="ArrayPool{T}"/> and
/// wrapped, without a copy, in an <see cref="Any"/>. Reference counted: the grain holds one reference
/// while this is its current version, and every reader holds one through a lease until its reply is
/// written. The buffer goes back to the pool only when the last reference is released, so a reply being
/// serialised never reads a buffer that a newer version reuses.
/// </summary>
public sealed class PackedState : IDisposable
{
    public const string CartStateTypeUrl = "type.googleapis.com/cart_messages.CartState";

    private byte[]? _buffer;
    private int _references;

    private PackedState(byte[] buffer, int length, ulong version)
    {
        _buffer = buffer;
        _references = 1;
        Version = version;
        Any = new Any
        {
            TypeUrl = CartStateTypeUrl,
            Value = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, length)),
        };
    }

    /// <summary>The packed state. Valid only while the caller holds a reference.</summary>
    public Any Any { get; }

    public ulong Version { get; }

    public int Length => Any.Value.Length;

    internal bool IsReturnedToPool => Volatile.Read(ref _buffer) is null;

    /// <summary>Encodes <paramref name="state"/> into a pooled buffer; the caller owns the first reference.</summary>
    public static PackedState Pack(CartState state)
    {
        var size = state.CalculateSize();
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        state.WriteTo(buffer.AsSpan(0, size));
        return new PackedState(buffer, size, state.Version);
    }

    /// <summary>Takes another reference unless the last one was already released (then the caller re-reads).</summary>
    public bool TryAcquire()
    {
        var current = Volatile.Read(ref _references);
        while (current > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>
    /// Releases one reference. Dispose is the same call, so a lease can be handed to APIs that dispose
    /// (HttpResponse.RegisterForDispose) without a wrapper allocation: register it exactly once per reference.
    /// </summary>
    void IDisposable.Dispose() => Release();

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            var buffer = Interlocked.Exchange(ref _buffer, null);
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}

using System.Buffers;
using Microsoft.Extensions.ObjectPool;
using RocksDbSharp;

namespace CartActor.Persistence.RocksDb;

/// <summary>
/// What one <see cref="RocksDbCartStore.WriteAsync"/> call needs and gives back: a native write batch and a
/// buffer to encode each envelope in (the batch copies it, so one buffer serves the whole batch). Pooled so
/// a shard pass allocates neither; owned by one writer between Get and Return.
/// </summary>
internal sealed class WriteScratch : IDisposable
{
    // A batch or buffer that grew past these (a pass that wrote hundreds of carts, a huge cart) is not kept:
    // a pooled object should cost what a typical pass needs, not the largest one ever seen.
    private const int MaxRetainedWrites = 256;
    private const int MaxRetainedBufferBytes = 256 * 1024;
    private const int InitialBufferBytes = 4 * 1024;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferBytes);

    public WriteBatch Batch { get; } = new();

    /// <summary>A span of exactly <paramref name="length"/> bytes, valid until the next call.</summary>
    public Span<byte> Buffer(int length)
    {
        if (_buffer.Length < length)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(length);
        }

        return _buffer.AsSpan(0, length);
    }

    public void Dispose()
    {
        Batch.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    /// <summary>
    /// Pool policy: a returned scratch is cleared; an oversized one is refused, and the pool disposes it.
    /// </summary>
    internal sealed class Policy : IPooledObjectPolicy<WriteScratch>
    {
        public WriteScratch Create() => new();

        public bool Return(WriteScratch scratch)
        {
            if (scratch.Batch.Count() > MaxRetainedWrites || scratch._buffer.Length > MaxRetainedBufferBytes)
            {
                return false;
            }

            scratch.Batch.Clear();
            return true;
        }
    }
}

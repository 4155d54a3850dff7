using System.Buffers;
using System.Threading.Tasks.Sources;

namespace CartActor.Persistence.RocksDb;

/// <summary>
/// One shard's batch on its way through the <see cref="RocksDbCommitter"/>: the envelopes, encoded on the shard's
/// thread before <see cref="RocksDbCartStore.WriteAsync"/> returns (so the records may change afterwards), and the
/// completion the shard awaits. Reusable: the shard takes it from the committer's pool, the committer completes it,
/// and the shard's await (GetResult) hands it back. No shard ever runs on the committer's thread: the committer
/// queues the batch itself to the thread pool (<see cref="IThreadPoolWorkItem"/>, so that hop allocates nothing), and
/// the completion, with the shard's continuation inline, runs there.
/// </summary>
internal sealed class PendingCommit : IValueTaskSource<IReadOnlyCollection<ulong>>, IThreadPoolWorkItem
{
    // Sized for a typical pass (a few carts of a few hundred bytes to a few KB); a larger one grows and is not kept.
    private const int InitialBytes = 4 * 1024;
    private const int InitialEntries = 8;
    internal const int MaxRetainedBytes = 256 * 1024;

    private static readonly IReadOnlyCollection<ulong> NoConflicts = [];

    private readonly RocksDbCommitter _owner;
    private ManualResetValueTaskSourceCore<IReadOnlyCollection<ulong>> _core;
    private Exception? _failure;
    private byte[] _bytes = ArrayPool<byte>.Shared.Rent(InitialBytes);
    private Entry[] _entries = new Entry[InitialEntries];
    private int _used;

    public PendingCommit(RocksDbCommitter owner) => _owner = owner;

    /// <summary>Carts in this batch.</summary>
    public int Count { get; private set; }

    /// <summary>Encoded bytes held (the committer bounds a group by them).</summary>
    public int Bytes => _used;

    /// <summary>Appends one cart's value of exactly <paramref name="length"/> bytes; the span is valid until the next append.</summary>
    public Span<byte> Append(ulong cartId, int length)
    {
        if (_bytes.Length - _used < length)
        {
            Grow(length);
        }

        if (Count == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        _entries[Count++] = new Entry(cartId, _used, length);
        var span = _bytes.AsSpan(_used, length);
        _used += length;
        return span;
    }

    /// <summary>The <paramref name="index"/>th cart's id and value.</summary>
    public ReadOnlySpan<byte> Value(int index, out ulong cartId)
    {
        var entry = _entries[index];
        cartId = entry.CartId;
        return _bytes.AsSpan(entry.Offset, entry.Length);
    }

    public ValueTask<IReadOnlyCollection<ulong>> AsValueTask() => new(this, _core.Version);

    /// <summary>Completes the shard's await on the thread pool: the batch is written and synced, or, with a failure, not.</summary>
    public void Complete(Exception? failure)
    {
        _failure = failure;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>On a pool thread: completes the await, running the shard's continuation right here.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        if (_failure is { } failure)
        {
            _failure = null;
            _core.SetException(failure);
        }
        else
        {
            _core.SetResult(NoConflicts);
        }
    }

    /// <summary>Clears the batch for its next use; called once per use, by GetResult or by a refusal before submission.</summary>
    public void Recycle()
    {
        _core.Reset();
        Count = 0;
        _used = 0;
        if (_bytes.Length > MaxRetainedBytes)
        {
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = ArrayPool<byte>.Shared.Rent(InitialBytes);
        }

        _owner.Return(this);
    }

    public IReadOnlyCollection<ulong> GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void Grow(int length)
    {
        var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_bytes.Length * 2, _used + length));
        _bytes.AsSpan(0, _used).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_bytes);
        _bytes = grown;
    }

    private readonly record struct Entry(ulong CartId, int Offset, int Length);
}

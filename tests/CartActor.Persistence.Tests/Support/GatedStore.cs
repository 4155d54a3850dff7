using CartActor.Cart.Messages;

namespace CartActor.Persistence.Tests.Support;

/// <summary>
/// A real store behind a gate the test controls: each write is handed to the inner store at once (so the
/// inner store reads the records, and Redis orders the scripts, exactly when the shard issued them), but its
/// answer reaches the shard only when the test releases that write. A write the test marks to fail is never
/// sent, and is answered with the store's own "unavailable" error (a connection lost mid-write).
/// </summary>
internal sealed class GatedStore(ICartStore inner) : ICartStore
{
    private readonly object _lock = new();
    private readonly Dictionary<int, TaskCompletionSource> _gates = new();
    private readonly HashSet<int> _failing = new();
    private readonly List<IReadOnlyList<ulong>> _batches = new();

    /// <summary>Writes issued so far.</summary>
    public int Writes
    {
        get
        {
            lock (_lock)
            {
                return _batches.Count;
            }
        }
    }

    /// <summary>The cart ids of write <paramref name="number"/> (1-based).</summary>
    public IReadOnlyList<ulong> Batch(int number)
    {
        lock (_lock)
        {
            return _batches[number - 1];
        }
    }

    public string Name => inner.Name;

    public bool IsShared => inner.IsShared;

    /// <summary>Holds the answer of write <paramref name="number"/> (1-based) until <see cref="Release"/>.</summary>
    public void Hold(int number, bool fail = false)
    {
        lock (_lock)
        {
            _gates[number] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (fail)
            {
                _failing.Add(number);
            }
        }
    }

    public void Release(int number)
    {
        TaskCompletionSource? gate;
        lock (_lock)
        {
            _gates.TryGetValue(number, out gate);
        }

        gate?.TrySetResult();
    }

    /// <summary>Releases every write held so far (a test's clean-up: a held write would keep the runtime from disposing).</summary>
    public void ReleaseAll()
    {
        TaskCompletionSource[] gates;
        lock (_lock)
        {
            gates = [.. _gates.Values];
        }

        foreach (var gate in gates)
        {
            gate.TrySetResult();
        }
    }

    /// <summary>Waits (polling, bounded) until the shard has issued <paramref name="count"/> writes.</summary>
    public async Task WaitForWritesAsync(int count)
    {
        var deadline = DateTime.UtcNow + CartActor.Tests.Shared.TestTimeouts.Default;
        while (Writes < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the shard issued {Writes} writes, expected {count}");
            await Task.Delay(10);
        }
    }

    public CartRecord? Load(ulong cartId) => inner.Load(cartId);

    public ValueTask<IReadOnlyCollection<ulong>> WriteAsync(IReadOnlyList<CartWrite> writes)
    {
        int number;
        Task? gate;
        bool fail;
        lock (_lock)
        {
            _batches.Add(writes.Select(w => w.CartId).ToArray());
            number = _batches.Count;
            gate = _gates.TryGetValue(number, out var held) ? held.Task : null;
            fail = _failing.Contains(number);
        }

        if (gate is null)
        {
            return inner.WriteAsync(writes);
        }

        if (fail)
        {
            return new ValueTask<IReadOnlyCollection<ulong>>(FailAfterAsync(gate, number));
        }

        var written = inner.WriteAsync(writes).AsTask();
        return new ValueTask<IReadOnlyCollection<ulong>>(AnswerAfterAsync(gate, written));
    }

    public void Delete(ulong cartId) => inner.Delete(cartId);

    public Task<long> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        inner.DeleteOlderThanAsync(cutoff, cancellationToken);

    public void Dispose()
    {
        // The test disposes the inner store itself.
    }

    private static async Task<IReadOnlyCollection<ulong>> AnswerAfterAsync(Task gate, Task<IReadOnlyCollection<ulong>> written)
    {
        await gate.ConfigureAwait(false);
        return await written.ConfigureAwait(false);
    }

    private static async Task<IReadOnlyCollection<ulong>> FailAfterAsync(Task gate, int number)
    {
        await gate.ConfigureAwait(false);
        throw new CartStoreException(CartStoreError.Unavailable, $"gated: write {number} lost its connection");
    }
}

using System.Collections.Concurrent;
using System.Threading.Channels;

namespace CartActor.Core.Tests.Support;

/// <summary>Records lifecycle callbacks; evictions can be awaited (with the shared timeout) as they arrive.</summary>
internal sealed class RecordingObserver : ICartLifecycleObserver
{
    private readonly Channel<Eviction> _evictions = Channel.CreateUnbounded<Eviction>();

    public ConcurrentQueue<ulong> Activated { get; } = new();

    public ConcurrentQueue<Eviction> Evicted { get; } = new();

    public void OnActivated(ulong cartId) => Activated.Enqueue(cartId);

    public void OnEvicted(ulong cartId, CartRecord record, EvictionReason reason)
    {
        var eviction = new Eviction(cartId, record, reason);
        Evicted.Enqueue(eviction);
        _evictions.Writer.TryWrite(eviction);
    }

    /// <summary>The next eviction not yet taken by this method, in the order they happened.</summary>
    public Task<Eviction> NextEvictionAsync() => _evictions.Reader.ReadAsync().AsTask().WithTimeout();

    internal sealed record Eviction(ulong CartId, CartRecord Record, EvictionReason Reason);
}

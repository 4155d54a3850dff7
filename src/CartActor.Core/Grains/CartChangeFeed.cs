using System.Collections.Concurrent;
using CartActor.Cart.Messages;

namespace CartActor.Grains;

/// <summary>
/// Who watches which cart, and the wake-up signal a change sends them. A signal carries no data and
/// coalesces (one pending wake-up per subscription at most): a slow watcher re-reads the cart and skips to the
/// latest version instead of buffering every one. The grain publishes after each changing batch; with no
/// watcher on the node that is one volatile read. Evictions wake the cart's watchers too, so a stream can see
/// at once that its cart left this node. Bounded per cart and per node; thread-safe.
/// </summary>
public sealed class CartChangeFeed : ICartLifecycleObserver
{
    private readonly ConcurrentDictionary<ulong, List<Subscription>> _byCart = new();
    private readonly int _maxPerCart;
    private readonly int _maxPerNode;
    private int _count;

    public CartChangeFeed(int maxPerCart = 16, int maxPerNode = 10_000)
    {
        _maxPerCart = maxPerCart;
        _maxPerNode = maxPerNode;
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>A new subscription, or null with the reason when a bound is reached.</summary>
    public Subscription? TrySubscribe(ulong cartId, out string? refusal)
    {
        if (Interlocked.Increment(ref _count) > _maxPerNode)
        {
            Interlocked.Decrement(ref _count);
            refusal = $"this node already serves its maximum of {_maxPerNode} watchers";
            return null;
        }

        var subscription = new Subscription(this, cartId);
        while (true)
        {
            var list = _byCart.GetOrAdd(cartId, static _ => new List<Subscription>());
            lock (list)
            {
                if (!_byCart.TryGetValue(cartId, out var current) || !ReferenceEquals(current, list))
                {
                    continue; // emptied and dropped by a leaving watcher meanwhile: take the cart's list anew
                }

                if (list.Count >= _maxPerCart)
                {
                    Interlocked.Decrement(ref _count);
                    refusal = $"cart {cartId} already has its maximum of {_maxPerCart} watchers";
                    return null;
                }

                list.Add(subscription);
                refusal = null;
                return subscription;
            }
        }
    }

    /// <summary>Wakes the cart's watchers; costs one volatile read when nobody watches anything.</summary>
    public void Publish(ulong cartId)
    {
        if (Volatile.Read(ref _count) != 0 && _byCart.TryGetValue(cartId, out var list))
        {
            lock (list)
            {
                foreach (var subscription in list)
                {
                    subscription.Signal();
                }
            }
        }
    }

    void ICartLifecycleObserver.OnActivated(ulong cartId)
    {
    }

    void ICartLifecycleObserver.OnEvicted(ulong cartId, CartRecord record, EvictionReason reason) => Publish(cartId);

    private void Remove(Subscription subscription)
    {
        if (_byCart.TryGetValue(subscription.CartId, out var list))
        {
            lock (list)
            {
                if (list.Remove(subscription))
                {
                    Interlocked.Decrement(ref _count);
                }

                if (list.Count == 0)
                {
                    _byCart.TryRemove(new KeyValuePair<ulong, List<Subscription>>(subscription.CartId, list));
                }
            }
        }
    }

    /// <summary>One watcher: wait for the next change (or a timeout), then re-read the cart. Dispose to leave.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly CartChangeFeed _feed;
        private readonly SemaphoreSlim _signal = new(0, 1);

        internal Subscription(CartChangeFeed feed, ulong cartId)
        {
            _feed = feed;
            CartId = cartId;
        }

        public ulong CartId { get; }

        /// <summary>Wake-ups waiting (0 or 1: they coalesce).</summary>
        public int Pending => _signal.CurrentCount;

        /// <summary>True when a change (or an eviction) was signalled, false after <paramref name="timeout"/>.</summary>
        public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);

        /// <summary>Called under the cart's list lock, so the check and the release do not race another signal.</summary>
        internal void Signal()
        {
            if (_signal.CurrentCount != 0)
            {
                return;
            }

            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled: the watcher will read the latest version anyway.
            }
        }

        public void Dispose()
        {
            _feed.Remove(this);
            _signal.Dispose();
        }
    }
}

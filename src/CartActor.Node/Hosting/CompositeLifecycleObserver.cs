using CartActor.Cart.Messages;

namespace CartActor.Node.Hosting;

/// <summary>Fans cart activations and evictions out to every registered observer (announcer, tests, persistence).</summary>
internal sealed class CompositeLifecycleObserver(ICartLifecycleObserver[] observers) : ICartLifecycleObserver
{
    public void OnActivated(ulong cartId)
    {
        foreach (var observer in observers)
        {
            observer.OnActivated(cartId);
        }
    }

    public void OnEvicted(ulong cartId, CartRecord record, EvictionReason reason)
    {
        foreach (var observer in observers)
        {
            observer.OnEvicted(cartId, record, reason);
        }
    }
}

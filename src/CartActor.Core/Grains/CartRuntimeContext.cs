using CartActor.Cart;
using CartActor.Diagnostics;

namespace CartActor.Grains;

/// <summary>What every shard and grain of one runtime shares. Immutable.</summary>
internal sealed class CartRuntimeContext(
    CartRuntimeOptions options,
    MutationRegistry registry,
    TimeProvider time,
    CartMetrics metrics,
    ICartLifecycleObserver? observer,
    Persistence.ICartStore? store,
    CartChangeFeed? changes = null)
{
    public CartChangeFeed? Changes { get; } = changes;
    public CartRuntimeOptions Options { get; } = options;
    public MutationRegistry Registry { get; } = registry;
    public TimeProvider Time { get; } = time;
    public CartMetrics Metrics { get; } = metrics;
    public ICartLifecycleObserver? Observer { get; } = observer;
    public Persistence.ICartStore? Store { get; } = store;
}

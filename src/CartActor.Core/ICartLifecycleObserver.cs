using CartActor.Cart.Messages;

namespace CartActor;

public enum EvictionReason
{
    IdleTtl,
    Capacity,
    Shutdown,

    /// <summary>The ring gave the cart to another node: its record is already written; the new owner loads it.</summary>
    NotOwned,

    /// <summary>This node's view of the ring was too old to trust (it woke from a pause): every cached cart is reloaded.</summary>
    StaleView,

    /// <summary>The write of its last change failed or lost a race: the in-memory copy was dropped, to be reloaded.</summary>
    Rollback,
}

/// <summary>
/// Told when a cart becomes live on this node and when it leaves memory. Called on the cart's shard,
/// between two batches: keep it short and never block (queue slow work elsewhere).
/// </summary>
public interface ICartLifecycleObserver
{
    void OnActivated(ulong cartId);

    /// <summary><paramref name="record"/> is the cart's final state and idempotency window, owned by the callee.</summary>
    void OnEvicted(ulong cartId, CartRecord record, EvictionReason reason);
}

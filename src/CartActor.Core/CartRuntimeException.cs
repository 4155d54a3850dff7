namespace CartActor;

/// <summary>Why the runtime refused a request as a whole (domain errors are per-mutation results, not this).</summary>
public enum CartRequestError
{
    /// <summary>The request itself is malformed: not retryable.</summary>
    InvalidArgument,

    /// <summary>The cart's shard is full: retry after a short back-off.</summary>
    Overloaded,

    /// <summary>The durable store could not take the write (or give the cart): nothing was acknowledged; retry.</summary>
    StoreUnavailable,

    /// <summary>Another writer changed the cart in the shared store first; it was reloaded: retry.</summary>
    Conflict,

    /// <summary>The cart's stored record is unreadable: this cart fails until repaired; others are unaffected.</summary>
    Corrupt,

    /// <summary>The batch's ExpectVersion did not match the cart: nothing was applied; the client re-reads and decides (ABORTED).</summary>
    VersionMismatch,
}

/// <summary>A request refused before any mutation ran.</summary>
public sealed class CartRuntimeException : Exception
{
    public CartRuntimeException(CartRequestError error, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
    }

    public CartRequestError Error { get; }

    public bool IsRetryable => Error is CartRequestError.Overloaded or CartRequestError.StoreUnavailable or CartRequestError.Conflict;
}

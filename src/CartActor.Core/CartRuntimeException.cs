namespace CartActor;

/// <summary>Why the runtime refused a request as a whole (domain errors are per-mutation results, not this).</summary>
public enum CartRequestError
{
    /// <summary>The request itself is malformed: not retryable.</summary>
    InvalidArgument,

    /// <summary>The cart's shard is full: retry after a short back-off.</summary>
    Overloaded,
}

/// <summary>A request refused before any mutation ran.</summary>
public sealed class CartRuntimeException : Exception
{
    public CartRuntimeException(CartRequestError error, string message)
        : base(message)
    {
        Error = error;
    }

    public CartRequestError Error { get; }

    public bool IsRetryable => Error == CartRequestError.Overloaded;
}

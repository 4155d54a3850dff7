using System.Globalization;
using System.Security.Cryptography;

namespace CartActor.Node.Forwarding;

/// <summary>
/// Idempotency keys an entry node gives the Applies that arrive without one, so that a retry after an
/// ambiguous failure (a timeout, a reset, a store write whose outcome is unknown) is applied exactly once.
/// A random per-process prefix and a counter: unique across nodes and restarts, one small string per key.
/// Used only off the in-memory/embedded hot path (forwarded calls and the shared store).
/// </summary>
internal sealed class GeneratedKeys
{
    private readonly string _prefix = "~" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + "-";
    private long _next;

    public string Next() => string.Concat(_prefix, Interlocked.Increment(ref _next).ToString("x", CultureInfo.InvariantCulture));
}

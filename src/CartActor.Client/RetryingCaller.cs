using System.Net.Http;
using Grpc.Core;

namespace CartActor.Client;

/// <summary>
/// Runs one logical call: a deadline for all its attempts, the same idempotency key on each (so a change the
/// node applied before the connection broke is answered from its idempotency window, not applied twice), and
/// another attempt after UNAVAILABLE or a failed connection, with exponential back-off and full jitter, until
/// <see cref="CartClientOptions.MaxAttempts"/> or the deadline. Every other status is the caller's answer at once.
/// </summary>
internal sealed class RetryingCaller(CartClientOptions options, TimeProvider time)
{
    /// <summary>The header the node reads the key from (the same on ControlPlane Apply and the typed service).</summary>
    public const string IdempotencyKeyHeader = "idempotency-key";

    public async Task<TResponse> CallAsync<TRequest, TResponse>(
        Func<TRequest, CallOptions, AsyncUnaryCall<TResponse>> call,
        TRequest request,
        bool changesCart,
        CartCallOptions? callOptions,
        CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow().UtcDateTime + (callOptions?.Timeout ?? options.Timeout);
        var headers = changesCart ? new Metadata { { IdempotencyKeyHeader, callOptions?.IdempotencyKey ?? NewKey() } } : null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var pending = call(request, new CallOptions(headers, deadline, cancellationToken));
                return await pending.ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException ex) when (IsRetryable(ex) && attempt < options.MaxAttempts && !cancellationToken.IsCancellationRequested)
            {
                var delay = Backoff(attempt);
                if (time.GetUtcNow().UtcDateTime + delay >= deadline)
                {
                    throw;
                }

                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A new key per logical call: 32 hex characters, well inside the node's 128-character limit.</summary>
    internal static string NewKey() => Guid.NewGuid().ToString("N");

    /// <summary>
    /// UNAVAILABLE (a node joining, draining, restarting, or a refused connection, which grpc-dotnet reports as
    /// UNAVAILABLE), and INTERNAL when the transport failed under the call (a connection reset or closed by the
    /// server mid-call): both are safe to repeat with the same key.
    /// </summary>
    internal static bool IsRetryable(RpcException ex) =>
        ex.StatusCode == StatusCode.Unavailable
        || (ex.StatusCode == StatusCode.Internal && ex.Status.DebugException is HttpRequestException or IOException);

    /// <summary>Full jitter: uniform in [0, min(max, initial * 2^(attempt-1))].</summary>
    private TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(options.MaxBackoff.TotalMilliseconds, options.InitialBackoff.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }
}

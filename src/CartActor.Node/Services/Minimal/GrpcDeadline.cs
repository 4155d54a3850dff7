using Microsoft.AspNetCore.Http.Features;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// The caller's grpc-timeout, kept as Grpc.AspNetCore keeps it: the call's token fires at the deadline (or when the
/// client resets the stream), and an expired call is answered DEADLINE_EXCEEDED "Deadline Exceeded" at once, then
/// the stream is reset (CANCEL, as Grpc.AspNetCore 2.85 resets it), whatever the work still running. A call without a deadline allocates nothing
/// here: its token is the request's own.
/// </summary>
internal readonly struct GrpcDeadline : IDisposable
{
    private const int Http2Cancel = 0x8;

    private readonly CancellationTokenSource? _timer;

    private GrpcDeadline(CancellationTokenSource? timer, DateTime at, CancellationToken token)
    {
        _timer = timer;
        At = at;
        Token = token;
    }

    /// <summary>DateTime.MaxValue when the caller set none.</summary>
    public DateTime At { get; }

    public CancellationToken Token { get; }

    public static GrpcDeadline Start(HttpContext http)
    {
        var timeout = GrpcWire.ReadTimeout(http.Request.Headers);
        if (timeout <= TimeSpan.Zero)
        {
            return new GrpcDeadline(null, DateTime.MaxValue, http.RequestAborted);
        }

        var timer = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timer.CancelAfter(timeout);
        return new GrpcDeadline(timer, DateTime.UtcNow + timeout, timer.Token);
    }

    public CartCall Call(HttpContext http) => new(http, At, Token);

    /// <summary>The deadline passed (rather than the client going away).</summary>
    public bool HasExpired(HttpContext http) => _timer is { IsCancellationRequested: true } && !http.RequestAborted.IsCancellationRequested;

    /// <summary>
    /// The answer, or OperationCanceledException at the deadline even when the work cannot be cancelled (a call
    /// waiting its turn in a busy mailbox). Such an answer, when it comes, has its pooled bytes released.
    /// </summary>
    public ValueTask<CartAnswer<T>> Bound<T>(ValueTask<CartAnswer<T>> pending) =>
        _timer is null || pending.IsCompleted ? pending : Awaited(pending, _timer.Token);

    private static async ValueTask<CartAnswer<T>> Awaited<T>(ValueTask<CartAnswer<T>> pending, CancellationToken token)
    {
        var task = pending.AsTask();
        try
        {
            return await task.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!task.IsCompleted)
        {
            _ = task.ContinueWith(static t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    t.Result.Release?.Dispose();
                }
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>As Grpc.AspNetCore: DEADLINE_EXCEEDED, the response completed, then the stream reset with CANCEL (0x8).</summary>
    public static async Task AnswerExceededAsync(HttpContext http)
    {
        GrpcResponse.WriteStatus(http, GrpcWire.DeadlineExceeded, null);
        if (http.Features.Get<IHttpResponseBodyFeature>() is { } body)
        {
            await body.CompleteAsync().ConfigureAwait(false);
        }

        if (http.Features.Get<IHttpResetFeature>() is { } reset)
        {
            reset.Reset(Http2Cancel);
        }
        else
        {
            http.Abort();
        }
    }

    public void Dispose() => _timer?.Dispose();
}

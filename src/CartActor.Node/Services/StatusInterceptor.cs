using System.Diagnostics;
using CartActor.Node.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Services;

/// <summary>
/// Where failures become gRPC statuses (by <see cref="CallStatus"/>, which the minimal endpoint shares for Apply
/// and Get), and where every call is counted (unary calls also timed), for every kind of call Grpc.AspNetCore
/// serves: unary (Apply, Get, the storefront's RPCs), server streaming (WatchCart, the
/// health Watch) and the streaming kinds reflection uses. Runtime refusals map to INVALID_ARGUMENT /
/// RESOURCE_EXHAUSTED / UNAVAILABLE / ABORTED / DATA_LOSS; anything unexpected becomes INTERNAL with a fixed
/// message (no stack trace leaves the node) and is logged once here. Without this, an exception that leaves a
/// streaming handler reaches the client as UNKNOWN.
/// </summary>
internal sealed class StatusInterceptor(NodeMetrics metrics, FailedRequestLog failures, ILogger<StatusInterceptor> logger) : Interceptor
{
    /// <summary>Marks an ABORTED that is the client's expected_version, not a lost race: an entry node must not retry it.</summary>
    public const string VersionMismatchTrailer = "x-cart-version-mismatch";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var started = Stopwatch.GetTimestamp();
        var outcome = new Outcome(StatusCode.OK, null);
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var mapped = Map(ex, context, streaming: false, out outcome);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
        finally
        {
            Record(context, outcome, started);
        }
    }

    // The three streaming kinds share one guard: a delegate per call is fine here (streams are long-lived and
    // rare), while the unary handler above stays inline because it is on the request path.
    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        GuardStreamAsync(() => continuation(request, responseStream, context), context);

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        TResponse response = default!;
        await GuardStreamAsync(async () => response = await continuation(requestStream, context).ConfigureAwait(false), context).ConfigureAwait(false);
        return response;
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        GuardStreamAsync(() => continuation(requestStream, responseStream, context), context);

    /// <summary>Runs a streaming call: its failure mapped as a unary one's, counted by status, never timed.</summary>
    private async Task GuardStreamAsync(Func<Task> call, ServerCallContext context)
    {
        var outcome = new Outcome(StatusCode.OK, null);
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var mapped = Map(ex, context, streaming: true, out outcome);
            if (ReferenceEquals(mapped, ex))
            {
                throw;
            }

            throw mapped;
        }
        finally
        {
            Record(context, outcome, started: null);
        }
    }

    /// <summary>
    /// The exception to throw for <paramref name="ex"/> (the same instance when it is already an RpcException)
    /// and the status to count. On a stream, any failure after the client left (a write to a reset stream) is
    /// CANCELLED, not an unexpected failure: there is nobody to tell.
    /// </summary>
    private Exception Map(Exception ex, ServerCallContext context, bool streaming, out Outcome outcome)
    {
        switch (ex)
        {
            case RpcException rpc:
                outcome = new Outcome(rpc.StatusCode, rpc.Status.Detail);
                return rpc;
            case CartRuntimeException runtime:
                var (status, trailers) = CallStatus.Of(runtime);
                outcome = new Outcome(status.StatusCode, runtime.Message);
                return new RpcException(status, trailers ?? Metadata.Empty);
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
            case Exception when streaming && context.CancellationToken.IsCancellationRequested:
                outcome = new Outcome(StatusCode.Cancelled, CallStatus.CancelledDetail);
                return new RpcException(CallStatus.Cancelled);
            default:
                outcome = new Outcome(StatusCode.Internal, ex.GetType().Name);
                NodeLog.UnexpectedFailure(logger, context.Method, ex);
                return new RpcException(CallStatus.Internal);
        }
    }

    /// <summary>Counts the call; a unary one (<paramref name="started"/> set) is timed too, a stream is not (see NodeMetrics.RecordStream).</summary>
    private void Record(ServerCallContext context, Outcome outcome, long? started)
    {
        if (started is { } timestamp)
        {
            metrics.Record(context.Method, outcome.Status, Stopwatch.GetElapsedTime(timestamp));
        }
        else
        {
            metrics.RecordStream(context.Method, outcome.Status);
        }

        if (outcome.Status != StatusCode.OK)
        {
            failures.Failed(context.Method, outcome.Status, outcome.Detail);
        }
    }

    private readonly record struct Outcome(StatusCode Status, string? Detail);
}

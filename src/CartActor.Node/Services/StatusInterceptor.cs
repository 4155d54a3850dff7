using System.Diagnostics;
using CartActor.Node.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Services;

/// <summary>
/// The one place where failures become gRPC statuses, and where every call is counted (unary calls also timed), for every
/// kind of call the node serves: unary (Apply, Get, the storefront's RPCs), server streaming (WatchCart, the
/// health Watch) and the streaming kinds reflection uses. Runtime refusals map to INVALID_ARGUMENT /
/// RESOURCE_EXHAUSTED / UNAVAILABLE / ABORTED / DATA_LOSS; anything unexpected becomes INTERNAL with a fixed
/// message (no stack trace leaves the node) and is logged once here. Without this, an exception that leaves a
/// streaming handler reaches the client as UNKNOWN.
/// </summary>
internal sealed class StatusInterceptor(NodeMetrics metrics, FailedRequestLog failures, ILogger<StatusInterceptor> logger) : Interceptor
{
    private static readonly Status Internal = new(StatusCode.Internal, "internal error; the failure was logged on the node");

    /// <summary>Marks an ABORTED that is the client's expected_version, not a lost race: an entry node must not retry it.</summary>
    public const string VersionMismatchTrailer = "x-cart-version-mismatch";

    private static readonly Metadata VersionMismatchTrailers = new() { { VersionMismatchTrailer, "1" } };

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

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var outcome = new Outcome(StatusCode.OK, null);
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
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

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var outcome = new Outcome(StatusCode.OK, null);
        try
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
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

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var outcome = new Outcome(StatusCode.OK, null);
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
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
                var status = runtime.Error switch
                {
                    CartRequestError.Overloaded => StatusCode.ResourceExhausted,
                    CartRequestError.StoreUnavailable => StatusCode.Unavailable,
                    CartRequestError.Conflict => StatusCode.Aborted,
                    CartRequestError.Corrupt => StatusCode.DataLoss,
                    CartRequestError.VersionMismatch => StatusCode.Aborted,
                    _ => StatusCode.InvalidArgument,
                };
                outcome = new Outcome(status, runtime.Message);
                return runtime.Error == CartRequestError.VersionMismatch
                    ? new RpcException(new Status(status, runtime.Message), VersionMismatchTrailers)
                    : new RpcException(new Status(status, runtime.Message));
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
            case Exception when streaming && context.CancellationToken.IsCancellationRequested:
                outcome = new Outcome(StatusCode.Cancelled, "cancelled by the client or its deadline");
                return new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled by the client or its deadline"));
            default:
                outcome = new Outcome(StatusCode.Internal, ex.GetType().Name);
                NodeLog.UnexpectedFailure(logger, context.Method, ex);
                return new RpcException(Internal);
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

using System.Diagnostics;
using CartActor.Node.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Services;

/// <summary>
/// The one place where failures become gRPC statuses, and where every call is counted and timed.
/// Runtime refusals map to INVALID_ARGUMENT / RESOURCE_EXHAUSTED; anything unexpected becomes INTERNAL
/// with a fixed message (no stack trace leaves the node) and is logged once here.
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
        var status = StatusCode.OK;
        string? detail = null;
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            status = ex.StatusCode;
            detail = ex.Status.Detail;
            throw;
        }
        catch (CartRuntimeException ex)
        {
            status = ex.Error switch
            {
                CartRequestError.Overloaded => StatusCode.ResourceExhausted,
                CartRequestError.StoreUnavailable => StatusCode.Unavailable,
                CartRequestError.Conflict => StatusCode.Aborted,
                CartRequestError.Corrupt => StatusCode.DataLoss,
                CartRequestError.VersionMismatch => StatusCode.Aborted,
                _ => StatusCode.InvalidArgument,
            };
            detail = ex.Message;
            throw ex.Error == CartRequestError.VersionMismatch
                ? new RpcException(new Status(status, ex.Message), VersionMismatchTrailers)
                : new RpcException(new Status(status, ex.Message));
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            status = StatusCode.Cancelled;
            detail = "cancelled by the client or its deadline";
            throw new RpcException(new Status(status, "the call was cancelled by the client or its deadline"));
        }
        catch (Exception ex)
        {
            status = StatusCode.Internal;
            detail = ex.GetType().Name;
            NodeLog.UnexpectedFailure(logger, context.Method, ex);
            throw new RpcException(Internal);
        }
        finally
        {
            metrics.Record(context.Method, status, Stopwatch.GetElapsedTime(started));
            if (status != StatusCode.OK)
            {
                failures.Failed(context.Method, status, detail);
            }
        }
    }
}

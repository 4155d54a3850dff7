using System.Diagnostics;
using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// ControlPlane/Apply and ControlPlane/Get (and the storefront's GetCart and Mutate, MinimalControlPlaneEndpoint.Storefront.cs)
/// served by our own request delegate on Kestrel, ahead of routing and Grpc.AspNetCore (Node:MinimalEndpoint, default on). It reads the one message from the body pipe, runs the same
/// Apply/Get path as <see cref="ControlPlaneService"/> (<see cref="ControlPlaneService.ApplyAsync"/>,
/// <see cref="ControlPlaneService.GetAsync"/>) with the same peer-auth rules (<see cref="PeerAuthorization"/>),
/// status mapping (<see cref="CallStatus"/>), metrics and failed-request log, and writes the reply frame and the
/// grpc-status / grpc-message trailers itself: no ServerCallContext, interceptor chain, service activation or
/// per-call status objects, and a refusal costs no exception.
/// It takes only a plain unary call: POST over HTTP/2, content-type application/grpc or application/grpc+proto,
/// identity grpc-encoding. Everything else (another content type, HTTP/1.1, a compressed request) falls through
/// to Grpc.AspNetCore, which answers it as it always has. Read and parse failures are not counted in the metrics,
/// as Grpc.AspNetCore reads the request before any interceptor runs.
/// </summary>
internal sealed partial class MinimalControlPlaneEndpoint
{
    public const string ApplyPath = PeerAuthorization.Service + "Apply";
    public const string GetPath = PeerAuthorization.Service + "Get";

    private readonly ControlPlaneService _service;
    private readonly PeerAuthorization _authorization;
    private readonly NodeMetrics _metrics;
    private readonly FailedRequestLog _failures;
    private readonly ILogger<MinimalControlPlaneEndpoint> _logger;
    private readonly ReplyBudget _replies;
    private readonly int _maxMessageSize;
    private readonly int _applyRpc;
    private readonly int _getRpc;

    public MinimalControlPlaneEndpoint(
        ControlPlaneService service,
        PeerAuthorization authorization,
        NodeMetrics metrics,
        FailedRequestLog failures,
        IOptions<NodeOptions> options,
        ReplyBudget replies,
        ILogger<MinimalControlPlaneEndpoint> logger)
    {
        _replies = replies;
        _service = service;
        _authorization = authorization;
        _metrics = metrics;
        _failures = failures;
        _logger = logger;
        _maxMessageSize = options.Value.MaxMessageSize;
        _applyRpc = metrics.RpcIndex(ApplyPath);
        _getRpc = metrics.RpcIndex(GetPath);
        _getCartRpc = metrics.RpcIndex(GetCartPath);
        _mutateRpc = metrics.RpcIndex(MutatePath);
    }

    /// <summary>The middleware: Apply, Get, GetCart and Mutate are served here, every other request goes on to routing.</summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path.Value;
        if (string.Equals(path, ApplyPath, StringComparison.Ordinal))
        {
            return IsPlainUnary(context.Request, out var encoded) ? ServeApplyAsync(context, encoded) : next(context);
        }

        if (string.Equals(path, GetPath, StringComparison.Ordinal))
        {
            return IsPlainUnary(context.Request, out var encoded) ? ServeGetAsync(context, encoded) : next(context);
        }

        return InvokeStorefront(context, path, next);
    }

    private static bool IsPlainUnary(HttpRequest request, out bool hasEncodingHeader)
    {
        hasEncodingHeader = false;
        if (!HttpMethods.IsPost(request.Method) || !HttpProtocol.IsHttp2(request.Protocol))
        {
            return false;
        }

        var contentType = request.ContentType;
        if (!string.Equals(contentType, GrpcWire.ContentType, StringComparison.Ordinal)
            && !string.Equals(contentType, GrpcWire.ContentTypeProto, StringComparison.Ordinal))
        {
            return false;
        }

        if (request.Headers.TryGetValue(GrpcWire.EncodingHeader, out var encoding))
        {
            hasEncodingHeader = true;
            return encoding.Count == 1 && string.Equals(encoding[0], GrpcWire.Identity, StringComparison.Ordinal);
        }

        return true;
    }

    private async Task ServeApplyAsync(HttpContext http, bool hasEncodingHeader)
    {
        var started = Stopwatch.GetTimestamp();
        GrpcResponse.Prepare(http.Response);
        using var deadline = GrpcDeadline.Start(http);
        try
        {
            var (request, readRefusal) = await GrpcRequestReader.ReadAsync(
                http.Request.BodyReader, ApplyRequest.Parser, "ApplyRequest could not be parsed: ", _maxMessageSize, hasEncodingHeader, deadline.Token).ConfigureAwait(false);
            if (request is null)
            {
                GrpcResponse.WriteStatus(http, readRefusal, null);
                return;
            }

            if (!_authorization.Allows(http, ApplyPath, out var refusal))
            {
                Finish(http, _applyRpc, ApplyPath, started, refusal, null, refusal.Detail);
                return;
            }

            if (!AdmitsWrite(http, _applyRpc, ApplyPath, started, out var key))
            {
                return;
            }

            CartAnswer<ApplyResult> answer;
            try
            {
                answer = await deadline.Bound(_service.ApplyAsync(request, deadline.Call(http), key)).ConfigureAwait(false);
            }
            catch (Exception ex) when (!deadline.HasExpired(http))
            {
                Fail(http, _applyRpc, ApplyPath, started, ex, deadline.Token);
                return;
            }

            if (!answer.IsServed)
            {
                Finish(http, _applyRpc, ApplyPath, started, answer.Refusal, answer.Trailers, answer.Refusal.Detail);
                return;
            }

            if (ReplyBudget.Tracks(answer.Reply!.State?.Value.Length ?? 0))
            {
                await ServeTrackedAsync(http, _applyRpc, ApplyPath, started, answer, answer.Reply.State!.Value.Length, true, 0, static (h, a, _) => WriteMessageAsync(h, a.Reply!)).ConfigureAwait(false);
                return;
            }

            try
            {
                await http.Response.StartAsync().ConfigureAwait(false);
                if (!answer.IsBuiltHere || !ApplyReply.TryWrite(http.Response.BodyWriter, answer.Reply!))
                {
                    GrpcResponse.WriteMessage(http.Response.BodyWriter, answer.Reply!);
                }
            }
            finally
            {
                // The bytes are in Kestrel's pipe now: the pooled state may go back to its pool.
                answer.Release?.Dispose();
            }

            Finish(http, _applyRpc, ApplyPath, started, Status.DefaultSuccess, null, null);
        }
        catch (Exception) when (deadline.HasExpired(http))
        {
            await GrpcDeadline.AnswerExceededAsync(http).ConfigureAwait(false);
            Record(_applyRpc, ApplyPath, started, StatusCode.Cancelled, CallStatus.CancelledDetail);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client reset the stream while its request was being read: there is no one left to answer.
        }
    }

    private async Task ServeGetAsync(HttpContext http, bool hasEncodingHeader)
    {
        var started = Stopwatch.GetTimestamp();
        GrpcResponse.Prepare(http.Response);
        using var deadline = GrpcDeadline.Start(http);
        try
        {
            var (request, readRefusal) = await GrpcRequestReader.ReadAsync(
                http.Request.BodyReader, GetRequest.Parser, "GetRequest could not be parsed: ", _maxMessageSize, hasEncodingHeader, deadline.Token).ConfigureAwait(false);
            if (request is null)
            {
                GrpcResponse.WriteStatus(http, readRefusal, null);
                return;
            }

            if (!_authorization.Allows(http, GetPath, out var refusal))
            {
                Finish(http, _getRpc, GetPath, started, refusal, null, refusal.Detail);
                return;
            }

            CartAnswer<Any> answer;
            try
            {
                answer = await deadline.Bound(_service.GetAsync(request.Id, deadline.Call(http))).ConfigureAwait(false);
            }
            catch (Exception ex) when (!deadline.HasExpired(http))
            {
                Fail(http, _getRpc, GetPath, started, ex, deadline.Token);
                return;
            }

            if (!answer.IsServed)
            {
                Finish(http, _getRpc, GetPath, started, answer.Refusal, answer.Trailers, answer.Refusal.Detail);
                return;
            }

            if (ReplyBudget.Tracks(answer.Reply?.Value.Length ?? 0))
            {
                await ServeTrackedAsync(http, _getRpc, GetPath, started, answer, answer.Reply!.Value.Length, false, 0, static (h, a, _) => WriteGetReplyAsync(h, a.Reply)).ConfigureAwait(false);
                return;
            }

            try
            {
                await http.Response.StartAsync().ConfigureAwait(false);
                GrpcResponse.WriteGetReply(http.Response.BodyWriter, answer.Reply);
            }
            finally
            {
                answer.Release?.Dispose();
            }

            Finish(http, _getRpc, GetPath, started, Status.DefaultSuccess, null, null);
        }
        catch (Exception) when (deadline.HasExpired(http))
        {
            await GrpcDeadline.AnswerExceededAsync(http).ConfigureAwait(false);
            Record(_getRpc, GetPath, started, StatusCode.Cancelled, CallStatus.CancelledDetail);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client reset the stream while its request was being read: there is no one left to answer.
        }
    }

    /// <summary>A failure of the Apply/Get path, mapped as <see cref="StatusInterceptor"/> maps it.</summary>
    private void Fail(HttpContext http, int rpc, string method, long started, Exception ex, CancellationToken token)
    {
        switch (ex)
        {
            case RpcException rpcException:
                Finish(http, rpc, method, started, rpcException.Status, rpcException.Trailers, rpcException.Status.Detail);
                return;
            case CartRuntimeException runtime:
                var (status, trailers) = CallStatus.Of(runtime);
                Finish(http, rpc, method, started, status, trailers, runtime.Message);
                return;
            case OperationCanceledException when token.IsCancellationRequested:
                Finish(http, rpc, method, started, CallStatus.Cancelled, null, CallStatus.CancelledDetail);
                return;
            default:
                NodeLog.UnexpectedFailure(_logger, method, ex);
                Finish(http, rpc, method, started, CallStatus.Internal, null, ex.GetType().Name);
                return;
        }
    }

    private void Finish(HttpContext http, int rpc, string method, long started, Status status, Metadata? trailers, string? detail)
    {
        GrpcResponse.WriteStatus(http, status, trailers);
        Record(rpc, method, started, status.StatusCode, detail);
    }

    private void Record(int rpc, string method, long started, StatusCode status, string? detail)
    {
        _metrics.Record(rpc, status, Stopwatch.GetElapsedTime(started));
        if (status != StatusCode.OK)
        {
            _failures.Failed(method, status, detail);
        }
    }
}

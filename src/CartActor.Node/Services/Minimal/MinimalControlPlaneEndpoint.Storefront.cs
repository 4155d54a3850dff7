using System.Diagnostics;
using CartActor.Cart.V1;
using CartActor.ControlPlane;
using CartActor.Node.Services.Storefront;
using Grpc.Core;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// The storefront's hot RPCs (cartactor.cart.v1.CartService GetCart and Mutate) on the same fast path as Apply and
/// Get: the same reader, Apply/Get path, peer-auth rules, status mapping, metrics and failed-request log, answered
/// as <see cref="CartApiService"/> answers them through Grpc.AspNetCore (the cart, its ETag header, the outcomes).
/// A gRPC call that sends If-Match (the JSON API's expected version, read by the typed service on any call) goes
/// on to Grpc.AspNetCore, as does everything that is not a plain unary gRPC call (JSON, gRPC-Web).
/// </summary>
internal sealed partial class MinimalControlPlaneEndpoint
{
    public const string StorefrontService = "/cartactor.cart.v1.CartService/";
    public const string GetCartPath = StorefrontService + "GetCart";
    public const string MutatePath = StorefrontService + "Mutate";

    private readonly int _getCartRpc;
    private readonly int _mutateRpc;

    private Task InvokeStorefront(HttpContext context, string? path, RequestDelegate next)
    {
        if (string.Equals(path, MutatePath, StringComparison.Ordinal))
        {
            return IsPlainUnary(context.Request, out var encoded) && context.Request.Headers.IfMatch.Count == 0 ? ServeMutateAsync(context, encoded) : next(context);
        }

        if (string.Equals(path, GetCartPath, StringComparison.Ordinal))
        {
            return IsPlainUnary(context.Request, out var encoded) ? ServeGetCartAsync(context, encoded) : next(context);
        }

        return next(context);
    }

    private async Task ServeGetCartAsync(HttpContext http, bool hasEncodingHeader)
    {
        var started = Stopwatch.GetTimestamp();
        GrpcResponse.Prepare(http.Response);
        using var deadline = GrpcDeadline.Start(http);
        try
        {
            var (request, readRefusal) = await GrpcRequestReader.ReadAsync(
                http.Request.BodyReader, GetCartRequest.Parser, "GetCartRequest could not be parsed: ", _maxMessageSize, hasEncodingHeader, deadline.Token).ConfigureAwait(false);
            if (request is null)
            {
                GrpcResponse.WriteStatus(http, readRefusal, null);
                return;
            }

            if (!_authorization.Allows(http, GetCartPath, out var refusal))
            {
                Finish(http, _getCartRpc, GetCartPath, started, refusal, null, refusal.Detail);
                return;
            }

            CartAnswer<Any> answer;
            try
            {
                answer = await deadline.Bound(_service.GetAsync(request.CartId, deadline.Call(http))).ConfigureAwait(false);
            }
            catch (Exception ex) when (!deadline.HasExpired(http))
            {
                Fail(http, _getCartRpc, GetCartPath, started, ex, deadline.Token);
                return;
            }

            if (!answer.IsServed)
            {
                Finish(http, _getCartRpc, GetCartPath, started, answer.Refusal, answer.Trailers, answer.Refusal.Detail);
                return;
            }

            if (ReplyBudget.Tracks(answer.Reply?.Value.Length ?? 0))
            {
                await ServeTrackedAsync(http, _getCartRpc, GetCartPath, started, answer, answer.Reply!.Value.Length, false, 0, static (h, a, _) => WriteCartAsync(h, a.Reply, null, 0)).ConfigureAwait(false);
                return;
            }

            try
            {
                if (!await WriteCartAsync(http, answer.Reply, null, 0).ConfigureAwait(false))
                {
                    Fail(http, _getCartRpc, GetCartPath, started, NoState(), deadline.Token);
                    return;
                }
            }
            finally
            {
                answer.Release?.Dispose();
            }

            Finish(http, _getCartRpc, GetCartPath, started, Status.DefaultSuccess, null, null);
        }
        catch (Exception) when (deadline.HasExpired(http))
        {
            await GrpcDeadline.AnswerExceededAsync(http).ConfigureAwait(false);
            Record(_getCartRpc, GetCartPath, started, StatusCode.Cancelled, CallStatus.CancelledDetail);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client reset the stream while its request was being read: there is no one left to answer.
        }
    }

    private async Task ServeMutateAsync(HttpContext http, bool hasEncodingHeader)
    {
        var started = Stopwatch.GetTimestamp();
        GrpcResponse.Prepare(http.Response);
        using var deadline = GrpcDeadline.Start(http);
        try
        {
            var (request, readRefusal) = await GrpcRequestReader.ReadAsync(
                http.Request.BodyReader, MutateRequest.Parser, "MutateRequest could not be parsed: ", _maxMessageSize, hasEncodingHeader, deadline.Token).ConfigureAwait(false);
            if (request is null)
            {
                GrpcResponse.WriteStatus(http, readRefusal, null);
                return;
            }

            if (!_authorization.Allows(http, MutatePath, out var refusal))
            {
                Finish(http, _mutateRpc, MutatePath, started, refusal, null, refusal.Detail);
                return;
            }

            if (request.Mutations.Count == 0)
            {
                Finish(http, _mutateRpc, MutatePath, started, TypedMutations.NoMutations, null, TypedMutations.NoMutations.Detail);
                return;
            }

            if (!AdmitsWrite(http, _mutateRpc, MutatePath, started, out var key))
            {
                return;
            }

            CartAnswer<ApplyResult> answer;
            int skip;
            try
            {
                var apply = TypedMutations.Batch(request.CartId, request.HasExpectedVersion ? request.ExpectedVersion : null, request.Mutations, out skip);
                answer = await deadline.Bound(_service.ApplyAsync(apply, deadline.Call(http), key)).ConfigureAwait(false);
            }
            catch (Exception ex) when (!deadline.HasExpired(http))
            {
                Fail(http, _mutateRpc, MutatePath, started, ex, deadline.Token);
                return;
            }

            if (!answer.IsServed)
            {
                Finish(http, _mutateRpc, MutatePath, started, answer.Refusal, answer.Trailers, answer.Refusal.Detail);
                return;
            }

            if (ReplyBudget.Tracks(answer.Reply!.State?.Value.Length ?? 0))
            {
                await ServeTrackedAsync(http, _mutateRpc, MutatePath, started, answer, answer.Reply.State!.Value.Length, true, skip, static (h, a, s) => WriteCartAsync(h, a.Reply!.State, a.Reply, s)).ConfigureAwait(false);
                return;
            }

            try
            {
                if (!await WriteCartAsync(http, answer.Reply!.State, answer.Reply, skip).ConfigureAwait(false))
                {
                    Fail(http, _mutateRpc, MutatePath, started, NoState(), deadline.Token);
                    return;
                }
            }
            finally
            {
                answer.Release?.Dispose();
            }

            Finish(http, _mutateRpc, MutatePath, started, Status.DefaultSuccess, null, null);
        }
        catch (Exception) when (deadline.HasExpired(http))
        {
            await GrpcDeadline.AnswerExceededAsync(http).ConfigureAwait(false);
            Record(_mutateRpc, MutatePath, started, StatusCode.Cancelled, CallStatus.CancelledDetail);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client reset the stream while its request was being read: there is no one left to answer.
        }
    }

    /// <summary>
    /// The ETag (the cart's version) and the reply: the cart alone (GetCart) or with its outcomes (Mutate). False when
    /// there is no state, which Grpc.AspNetCore's path fails on too (INTERNAL).
    /// </summary>
    private static async ValueTask<bool> WriteCartAsync(HttpContext http, Any? state, ApplyResult? result, int skip)
    {
        if (state is null)
        {
            return false;
        }

        http.Response.Headers.ETag = ETags.Format(CartReplies.VersionOf(state.Value.Span));
        await http.Response.StartAsync().ConfigureAwait(false);
        if (result is null)
        {
            CartReplies.WriteCartState(http.Response.BodyWriter, state.Value.Span);
        }
        else
        {
            CartReplies.WriteMutateReply(http.Response.BodyWriter, state.Value.Span, result, skip);
        }

        return true;
    }

    private static InvalidOperationException NoState() => new("the cart's answer carried no state");
}

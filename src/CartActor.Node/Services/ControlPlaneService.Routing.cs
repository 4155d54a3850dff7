using System.Diagnostics;
using System.Net.Http;
using System.Net.Sockets;
using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Ownership;
using Grpc.Core;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Services;

/// <summary>
/// The routing loop: everything that is not a local cart on a node-local store. Serves the cart here when
/// this node serves it, or forwards it once to the node that does; when that fails because the other node
/// is joining, draining, unreachable or sees another ring, or the store's answer was ambiguous, tries again
/// with a refreshed view after a short back-off, until the caller's deadline (ForwardTimeout when it set
/// none). Each forward attempt is capped at ForwardAttemptTimeout within that deadline, so an owner that
/// hangs leaves time to retry at its stand-in. Every Apply routed here carries an idempotency key (the client's, or one generated here), so a
/// retry after an ambiguous failure is applied exactly once. A node never forwards a forwarded call: it
/// refuses with its ring id, and the entry node decides.
/// </summary>
internal sealed partial class ControlPlaneService
{
    private static readonly TimeSpan[] Backoff =
    [
        TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(50),
        TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200),
    ];

    private RingMarks? _forwardMarks;

    private ValueTask<CartAnswer<ApplyResult>> ApplyRoutedAsync(ApplyRequest request, CartCall call, string? clientKey)
    {
        var key = clientKey ?? _keys.Next();
        return RouteAsync(
            "Apply",
            request.Id,
            request,
            call,
            key,
            static (client, r, headers, deadline, token) => client.ApplyAsync(r, headers, deadline, token),
            static reply => CartAnswer<ApplyResult>.Served(reply, null),
            (service, r) => service.ApplyLocal(r, key));
    }

    private ValueTask<CartAnswer<Any>> GetRoutedAsync(ulong cartId, CartCall call) =>
        RouteAsync(
            "Get",
            cartId,
            new GetRequest { Id = cartId },
            call,
            key: null,
            static (client, r, headers, deadline, token) => client.GetAsync(r, headers, deadline, token),
            static reply => CartAnswer<Any>.Served(reply.Grain, null),
            static (service, r) => service.GetLocal(r.Id));

    private async ValueTask<CartAnswer<TAnswer>> RouteAsync<TRequest, TResponse, TAnswer>(
        string rpc,
        ulong cartId,
        TRequest request,
        CartCall call,
        string? key,
        Func<ControlPlane.ControlPlane.ControlPlaneClient, TRequest, Metadata, DateTime, CancellationToken, AsyncUnaryCall<TResponse>> forward,
        Func<TResponse, CartAnswer<TAnswer>> forwarded,
        Func<ControlPlaneService, TRequest, ValueTask<CartAnswer<TAnswer>>> local)
    {
        var deadline = call.Deadline == DateTime.MaxValue ? DateTime.UtcNow + _forwardTimeout : call.Deadline;
        var isForwarded = call.IsForwarded;
        var cancellation = call.CancellationToken;
        for (var attempt = 0; ; attempt++)
        {
            if (_membership.IsViewStale())
            {
                // Woke from a pause (or cut off) longer than the suspect time: cached carts may be stale.
                await _membership.RecoverStaleViewAsync(cancellation).ConfigureAwait(false);
            }

            var lookup = _view.Map.Lookup(cartId);
            NodeTracing.Routed(lookup);
            var attemptDeadline = deadline;
            try
            {
                if (lookup.Kind == OwnerKind.Local)
                {
                    return await local(this, request).ConfigureAwait(false);
                }

                if (isForwarded)
                {
                    // Views disagree: never forward twice. The entry node refreshes if its ring differs and retries.
                    return CartAnswer<TAnswer>.Refused(
                        new Status(StatusCode.Unavailable, $"not the owner of cart {cartId}: in this node's ring {lookup.Ring.RingId:x16} it is served by {lookup.Owner}; retry"),
                        ForwardingHeaders.RefusalTrailers(lookup.Ring));
                }

                TResponse reply;
                using var span = NodeTracing.StartForward(rpc, lookup.Owner);
                try
                {
                    attemptDeadline = ForwardAttempt.Deadline(deadline, _forwardAttemptTimeout, DateTime.UtcNow);
                    reply = await forward(_peers.For(lookup.Owner), request, ForwardHeaders(lookup, key, span), attemptDeadline, cancellation).ConfigureAwait(false);
                }
                catch (RpcException ex)
                {
                    _metrics.Forwarded(ex.StatusCode);
                    NodeTracing.Failed(span, ex);
                    throw;
                }

                _metrics.Forwarded(StatusCode.OK);
                return forwarded(reply);
            }
            catch (CartRuntimeException ex) when (_sharedStore && ex.Error is CartRequestError.StoreUnavailable or CartRequestError.Conflict
                                                  && CanRetry(attempt, deadline, cancellation))
            {
                // The write's outcome is unknown, or it kept losing to another writer: the cart was dropped;
                // re-applying with the same key reloads it and is applied exactly once.
                _metrics.Retried("store");
            }
            catch (RpcException ex) when (!isForwarded && lookup.Kind == OwnerKind.Remote
                                          && (IsRetryable(ex) || ex.StatusCode == StatusCode.Cancelled || ForwardAttempt.TimedOut(ex, attemptDeadline, deadline))
                                          && CanRetry(attempt, deadline, cancellation))
            {
                _metrics.Retried(ex.StatusCode switch { StatusCode.Cancelled => "cancelled", StatusCode.DeadlineExceeded => "timeout", _ => "refused" });
                await ReactToRefusalAsync(lookup, ex, cancellation).ConfigureAwait(false);
            }

            await Task.Delay(Backoff[Math.Min(attempt, Backoff.Length - 1)], _time, cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>What a failed forward says about the view: refresh only when the owner's ring differs; a refused connection marks it Suspect at once.</summary>
    private Task ReactToRefusalAsync(OwnerLookup lookup, RpcException ex, CancellationToken cancellationToken)
    {
        if (IsConnectionFailure(ex))
        {
            _membership.ReportUnreachable(lookup.Owner);
            return Task.CompletedTask;
        }

        var theirs = ForwardingHeaders.RefusalRingId(ex);
        if (theirs is not null && theirs != ForwardingHeaders.FormatRingId(lookup.Ring.RingId))
        {
            return _membership.RefreshAsync(lookup.Ring.Epoch, cancellationToken);
        }

        return Task.CompletedTask;
    }

    private static bool CanRetry(int attempt, DateTime deadline, CancellationToken cancellation) =>
        !cancellation.IsCancellationRequested && DateTime.UtcNow + Backoff[Math.Min(attempt, Backoff.Length - 1)] < deadline;

    /// <summary>
    /// Failures another attempt can cure (besides a forward cancelled while our own caller was not, such as a
    /// call on a peer channel disposed because the peer was removed): the other node refused (joining, draining, another ring, an
    /// ambiguous store write, a lost compare-and-set), or the connection failed. INTERNAL only for the
    /// HTTP/2 GOAWAY race ("server closed the connection"), where the request never reached the node. Not
    /// an ABORTED for the client's expected version: re-applying cannot change the answer.
    /// </summary>
    private static bool IsRetryable(RpcException ex) =>
        ex.StatusCode is StatusCode.Unavailable
        || (ex.StatusCode == StatusCode.Aborted && ex.Trailers.GetValue(StatusInterceptor.VersionMismatchTrailer) is null)
        || (ex.StatusCode == StatusCode.Internal && ex.Status.Detail.Contains("server closed the connection", StringComparison.Ordinal));

    private static bool IsConnectionFailure(RpcException ex)
    {
        for (var inner = ex.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.ConnectionReset or SocketError.HostUnreachable }
                || inner is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError })
            {
                return true;
            }
        }

        return false;
    }

    private Metadata ForwardHeaders(OwnerLookup lookup, string? key, Activity? span)
    {
        // Built once per ring and shared by every keyless call forwarded under it: the client only reads them.
        var cached = Volatile.Read(ref _forwardMarks);
        if (cached?.Ring != lookup.Ring)
        {
            cached = new RingMarks(lookup.Ring, ForwardingHeaders.For(lookup.Ring));
            Volatile.Write(ref _forwardMarks, cached);
        }

        var marks = cached.Headers;
        if (key is null && span is null)
        {
            return marks;
        }

        var headers = new Metadata();
        foreach (var entry in marks)
        {
            headers.Add(entry);
        }

        if (key is not null)
        {
            headers.Add(IdempotencyKeyHeader, key);
        }

        if (span is not null)
        {
            // The owner's span joins this trace (W3C trace context).
            NodeTracing.Inject(span, headers);
        }

        return headers;
    }

    private sealed record RingMarks(RingSnapshot Ring, Metadata Headers);
}

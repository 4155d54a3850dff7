using CartActor.ControlPlane;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using CartActor.Ownership;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Services;

/// <summary>
/// Who may make which call, when the cluster has a key. Peer-only RPCs (Negotiate, AnnounceOwnership,
/// AnnounceExpiry, Closing, GetLocalActorIds) and every internal mark a peer adds to Apply or Get
/// (<see cref="ForwardingHeaders.InternalMarks"/>) need the key: without it UNAUTHENTICATED, with a wrong one
/// PERMISSION_DENIED. A marked call without the key is refused rather than served as a client call: a peer that
/// lost its key must hear so at once (served as a client call, a forwarded call could be forwarded again), and
/// the marks can export and delete carts. Ping, Apply, Get, health and reflection stay open to clients.
/// Closing is honoured only from the peer it names: the sender's host header must name it, and a named member
/// that still answers its pings as healthy is not removed (FAILED_PRECONDITION), key or no key.
/// With mutual TLS (<c>--tls-client-ca</c>) a connection that presented a client certificate counts as a peer too:
/// the handshake already refused any certificate the cluster CA did not issue, so the key or such a certificate
/// is proof. Without a key and without a client CA everything stays open (the node warns once at start when it
/// has seeds).
/// </summary>
internal sealed class PeerAuthInterceptor(
    PeerAuthorization authorization,
    PeerClients peers,
    ClusterView view,
    ClusterMembership membership,
    IOptions<ClusterOptions> clusterOptions) : Interceptor
{
    private readonly TimeSpan _pingTimeout = clusterOptions.Value.PingTimeout;

    private bool Enforced => authorization.Enforced;

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (!authorization.Allows(context.GetHttpContext(), context.Method, out var refusal))
        {
            throw new RpcException(refusal);
        }

        return request is ClosingNotice notice
            ? ClosingAsync(notice, request, context, continuation)
            : continuation(request, context);
    }

    private async Task<TResponse> ClosingAsync<TRequest, TResponse>(
        ClosingNotice notice,
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
        where TRequest : class
        where TResponse : class
    {
        var named = RingSnapshot.Normalize(notice.Host);
        if (Enforced)
        {
            // Every peer sends its own host with Closing (PeerCredentialsHandler).
            var sender = context.GetHttpContext().Request.Headers[PeerCredentials.ClosingHostHeader].ToString();
            if (!string.Equals(RingSnapshot.Normalize(sender), named, StringComparison.Ordinal))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied,
                    $"Closing is honoured only from the peer it names ('{Truncate(notice.Host)}'); {PeerCredentials.ClosingHostHeader} was '{Truncate(sender)}'"));
            }
        }

        // A closing peer has left its own ring and answers Ping UNAVAILABLE; a member that still answers as
        // healthy is not closing, whoever says so.
        if (named != view.Self && membership.HealthyHosts().Contains(named, StringComparer.Ordinal) && await AnswersPingAsync(named, context).ConfigureAwait(false))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"{named} still answers its pings as a healthy member: Closing is honoured only from the closing peer itself"));
        }

        return await continuation(request, context).ConfigureAwait(false);
    }

    private async Task<bool> AnswersPingAsync(string host, ServerCallContext context)
    {
        try
        {
            await peers.For(host).PingAsync(new Empty(), deadline: DateTime.UtcNow + _pingTimeout, cancellationToken: context.CancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "...";
}

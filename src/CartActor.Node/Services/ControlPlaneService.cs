using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using CartActor.Ownership;
using CartActor.Packing;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Services;

/// <summary>
/// The ControlPlane contract of the seed, served by a singleton. Apply and Get look up the owner with one
/// volatile read: local carts go to the cart runtime (after taking the cart from a previous holder if it
/// just moved here), remote ones are forwarded once to their owner. Pooled state bytes are released only
/// after the response has been written (RegisterForDispose runs when the request completes).
/// </summary>
internal sealed class ControlPlaneService(
    CartRuntime runtime,
    NodeIdentity identity,
    NodeReadiness readiness,
    ClusterView view,
    ClusterMembership membership,
    CartHandoff handoff,
    OwnershipHints hints,
    PeerClients peers,
    IOptions<ClusterOptions> clusterOptions,
    TimeProvider time,
    ILogger<ControlPlaneService> logger) : ControlPlane.ControlPlane.ControlPlaneBase
{
    public const string IdempotencyKeyHeader = "idempotency-key";

    private static readonly Status Joining = new(StatusCode.Unavailable, "this node is joining the cluster; not yet a member");
    private static readonly Status Draining = new(StatusCode.Unavailable, "this node is draining for shutdown");

    private readonly TimeSpan _forwardTimeout = clusterOptions.Value.ForwardTimeout;
    private RingMarks? _forwardMarks;

    public override Task<ApplyResult> Apply(ApplyRequest request, ServerCallContext context)
    {
        if (request.Id == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "id must not be 0"));
        }

        if (request.Messages.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "messages must hold at least one mutation"));
        }

        RequireMember();
        var lookup = view.Map.Lookup(request.Id);
        if (lookup.Kind != OwnerKind.Local)
        {
            return ApplyRemoteAsync(lookup, request, context);
        }

        var ensure = handoff.EnsureLocalAsync(request.Id, context.CancellationToken);
        return ensure.IsCompletedSuccessfully ? ApplyLocal(request, context) : ApplyAfterHandoffAsync(ensure, request, context);
    }

    public override Task<GetReply> Get(GetRequest request, ServerCallContext context)
    {
        if (request.Id == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "id must not be 0"));
        }

        if (ForwardingHeaders.Read(context, ForwardingHeaders.Handoff) is { } handoffMark)
        {
            return ForwardingHeaders.TakenVersion(handoffMark) is { } taken
                ? handoff.ConfirmTakenAsync(request.Id, taken)
                : handoff.HandOverAsync(request.Id);
        }

        RequireMember();
        var lookup = view.Map.Lookup(request.Id);
        if (lookup.Kind != OwnerKind.Local)
        {
            return GetRemoteAsync(lookup, request, context);
        }

        var ensure = handoff.EnsureLocalAsync(request.Id, context.CancellationToken);
        return ensure.IsCompletedSuccessfully ? GetLocal(request.Id, context) : GetAfterHandoffAsync(ensure, request.Id, context);
    }

    public override Task<PingReply> Ping(Empty request, ServerCallContext context)
    {
        // Only a node that is a full member answers: peers add a host to their ring only after it has
        // answered a Ping itself, so a joining or draining node is never handed carts.
        if (!membership.IsJoined || !readiness.IsReady)
        {
            throw new RpcException(membership.IsLeaving || !readiness.IsReady && membership.IsJoined ? Draining : Joining);
        }

        return Task.FromResult(new PingReply { Host = identity.AdvertisedHost, UnixTime = time.GetUtcNow().ToUnixTimeSeconds() });
    }

    public override Task<NegotiateReply> Negotiate(NegotiateRequest request, ServerCallContext context)
    {
        for (var i = 0; i < request.KnownHosts.Count; i++)
        {
            RequireHost(request.KnownHosts[i], $"known_hosts[{i}]");
        }

        membership.Learn(request.KnownHosts);
        var reply = new NegotiateReply();
        reply.Hosts.AddRange(membership.HealthyHosts());
        return Task.FromResult(reply);
    }

    public override Task<ActorIdsReply> GetLocalActorIds(Empty request, ServerCallContext context)
    {
        var reply = new ActorIdsReply();
        reply.Ids.AddRange(runtime.GetLocalCartIds());
        return Task.FromResult(reply);
    }

    public override Task<OwnerChangeAck> AnnounceOwnership(OwnershipAnnounce request, ServerCallContext context)
    {
        RequireHost(request.Host, "host");
        var (claimed, conflicts, dropped) = hints.Claim(request.Host, request.Ids);
        handoff.OnAnnounced(request.Host, request.Ids);
        var message = $"recorded {claimed} of {request.Ids.Count} claims from {request.Host}";
        if (conflicts > 0) message += $"; {conflicts} already claimed by another host (first claim wins)";
        if (dropped > 0) message += $"; {dropped} ignored, hint table full";
        return Task.FromResult(new OwnerChangeAck { Accepted = true, Message = message });
    }

    public override Task<OwnerChangeAck> AnnounceExpiry(ExpiryAnnounce request, ServerCallContext context)
    {
        RequireHost(request.Host, "host");
        var removed = hints.Expire(request.Host, request.Ids);
        return Task.FromResult(new OwnerChangeAck { Accepted = true, Message = $"dropped {removed} of {request.Ids.Count} hints for {request.Host}" });
    }

    public override Task<OwnerChangeAck> Closing(ClosingNotice request, ServerCallContext context)
    {
        RequireHost(request.Host, "host");
        NodeLog.PeerClosing(logger, request.Host);
        var removed = membership.RemoveClosing(request.Host);
        var forgotten = hints.ForgetHost(request.Host);
        return Task.FromResult(new OwnerChangeAck
        {
            Accepted = true,
            Message = removed
                ? $"{request.Host} removed from membership; {forgotten} ownership hints dropped"
                : $"{request.Host} was not a known member; {forgotten} ownership hints dropped",
        });
    }

    /// <summary>A node still joining has a partial ring: answering for a cart then could start a second history.</summary>
    private void RequireMember()
    {
        if (!membership.IsJoined && !membership.IsLeaving)
        {
            throw new RpcException(Joining);
        }
    }

    // ---- Local path ----

    private Task<ApplyResult> ApplyLocal(ApplyRequest request, ServerCallContext context)
    {
        var key = ForwardingHeaders.Read(context, IdempotencyKeyHeader);
        var pending = runtime.ApplyAsync(request.Id, request.Messages, key);
        return pending.IsCompletedSuccessfully
            ? Task.FromResult(Reply(pending.Result, context))
            : ApplyAwaited(pending, context);
    }

    private async Task<ApplyResult> ApplyAfterHandoffAsync(ValueTask ensure, ApplyRequest request, ServerCallContext context)
    {
        await ensure.ConfigureAwait(false);
        return await ApplyLocal(request, context).ConfigureAwait(false);
    }

    private Task<GetReply> GetLocal(ulong cartId, ServerCallContext context)
    {
        var pending = runtime.GetAsync(cartId);
        return pending.IsCompletedSuccessfully
            ? Task.FromResult(Reply(pending.Result, context))
            : GetAwaited(pending, context);
    }

    private static async Task<GetReply> GetAwaited(ValueTask<CartStateLease> pending, ServerCallContext context) =>
        Reply(await pending.ConfigureAwait(false), context);

    private static GetReply Reply(CartStateLease lease, ServerCallContext context)
    {
        context.GetHttpContext().Response.RegisterForDispose(lease.AsDisposable()!);
        return new GetReply { Grain = lease.State };
    }

    private async Task<GetReply> GetAfterHandoffAsync(ValueTask ensure, ulong cartId, ServerCallContext context)
    {
        await ensure.ConfigureAwait(false);
        return await GetLocal(cartId, context).ConfigureAwait(false);
    }

    private static async Task<ApplyResult> ApplyAwaited(ValueTask<ApplyOutcome> pending, ServerCallContext context) =>
        Reply(await pending.ConfigureAwait(false), context);

    private static ApplyResult Reply(ApplyOutcome outcome, ServerCallContext context)
    {
        if (outcome.AsDisposable() is { } release)
        {
            context.GetHttpContext().Response.RegisterForDispose(release);
        }

        return outcome.Result;
    }

    // ---- Remote path: forward once; if views disagree, refresh and retry once ----

    private Task<ApplyResult> ApplyRemoteAsync(OwnerLookup lookup, ApplyRequest request, ServerCallContext context) =>
        ForwardAsync(
            lookup,
            request.Id,
            request,
            context,
            static (client, r, headers, deadline, token) => client.ApplyAsync(r, headers, deadline, token),
            static (service, r, ctx) => service.ApplyLocal(r, ctx));

    private Task<GetReply> GetRemoteAsync(OwnerLookup lookup, GetRequest request, ServerCallContext context) =>
        ForwardAsync(
            lookup,
            request.Id,
            request,
            context,
            static (client, r, headers, deadline, token) => client.GetAsync(r, headers, deadline, token),
            static (service, r, ctx) => service.GetLocal(r.Id, ctx));

    /// <summary>
    /// Forwards once to the owner. If the owner answers UNAVAILABLE (its view differs, or it is going away),
    /// refreshes this node's view and tries once more: forwarding again, or serving locally if this node
    /// now owns the cart.
    /// </summary>
    private async Task<TResponse> ForwardAsync<TRequest, TResponse>(
        OwnerLookup lookup,
        ulong cartId,
        TRequest request,
        ServerCallContext context,
        Func<ControlPlane.ControlPlane.ControlPlaneClient, TRequest, Metadata, DateTime, CancellationToken, AsyncUnaryCall<TResponse>> call,
        Func<ControlPlaneService, TRequest, ServerCallContext, Task<TResponse>> local)
    {
        for (var attempt = 0; ; attempt++)
        {
            RefuseUnlessForwardable(lookup, cartId, context);
            try
            {
                return await call(peers.For(lookup.Owner), request, ForwardHeaders(lookup, context), ForwardDeadline(context), context.CancellationToken)
                    .ConfigureAwait(false);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && attempt == 0 && !context.CancellationToken.IsCancellationRequested)
            {
                await membership.RefreshAsync(context.CancellationToken).ConfigureAwait(false);
                lookup = view.Map.Lookup(cartId);
                if (lookup.Kind == OwnerKind.Local)
                {
                    await handoff.EnsureLocalAsync(cartId, context.CancellationToken).ConfigureAwait(false);
                    return await local(this, request, context).ConfigureAwait(false);
                }
            }
        }
    }

    private static void RefuseUnlessForwardable(OwnerLookup lookup, ulong cartId, ServerCallContext context)
    {
        if (lookup.Kind == OwnerKind.Suspect)
        {
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"cart {cartId} is owned by {lookup.Owner}, which is not answering pings (suspect); retry shortly"));
        }

        if (ForwardingHeaders.IsForwarded(context))
        {
            // Views disagree: never forward twice, or a cart could grow two histories.
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"not the owner of cart {cartId}: in this node's ring {lookup.Ring.RingId:x16} the owner is {lookup.Owner}; retry"));
        }
    }

    private Metadata ForwardHeaders(OwnerLookup lookup, ServerCallContext context)
    {
        // Built once per ring and shared by every call forwarded under it: the client only reads them.
        var cached = Volatile.Read(ref _forwardMarks);
        if (cached?.Ring != lookup.Ring)
        {
            cached = new RingMarks(lookup.Ring, ForwardingHeaders.For(lookup.Ring));
            Volatile.Write(ref _forwardMarks, cached);
        }

        var marks = cached.Headers;
        if (ForwardingHeaders.Read(context, IdempotencyKeyHeader) is not { } key)
        {
            return marks;
        }

        var headers = new Metadata();
        foreach (var entry in marks)
        {
            headers.Add(entry);
        }

        headers.Add(IdempotencyKeyHeader, key);
        return headers;
    }

    private DateTime ForwardDeadline(ServerCallContext context) =>
        context.Deadline == DateTime.MaxValue ? DateTime.UtcNow + _forwardTimeout : context.Deadline;

    private static void RequireHost(string host, string field)
    {
        if (string.IsNullOrEmpty(host))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{field} must not be empty"));
        }

        if (!HostName.TryParse(host, out _))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{field} '{Truncate(host)}' is not a 'name:port' host"));
        }
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "...";

    private sealed record RingMarks(RingSnapshot Ring, Metadata Headers);
}

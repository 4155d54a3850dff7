using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using CartActor.Ownership;
using CartActor.Packing;
using Any = Google.Protobuf.WellKnownTypes.Any;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Services;

/// <summary>
/// The ControlPlane contract of the seed, served by a singleton. Apply and Get look up the serving node with
/// one volatile read: local carts go straight to the cart runtime, the others through the routing loop
/// (ControlPlaneService.Routing.cs), which forwards and retries within the caller's deadline. Pooled state
/// bytes are released only after the response has been written (RegisterForDispose runs when the request
/// completes).
/// </summary>
internal sealed partial class ControlPlaneService : ControlPlane.ControlPlane.ControlPlaneBase
{
    public const string IdempotencyKeyHeader = Services.IdempotencyKeyHeader.Name;

    private static readonly Status Joining = new(StatusCode.Unavailable, "this node is joining the cluster; not yet a member");
    private static readonly Status NotAMember = new(StatusCode.FailedPrecondition, "this node keeps carts on its own disk (--store rocksdb) and serves alone; it is no cluster member");

    private readonly CartRuntime _runtime;
    private readonly NodeIdentity _identity;
    private readonly NodeReadiness _readiness;
    private readonly ClusterView _view;
    private readonly ClusterMembership _membership;
    private readonly PeerClients _peers;
    private readonly NodeMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ControlPlaneService> _logger;
    private readonly GeneratedKeys _keys = new();
    private readonly TimeSpan _forwardTimeout;
    private readonly TimeSpan _forwardAttemptTimeout;
    private readonly int _maxIdsPerAnnouncement;

    // A shared store fences every write; its Applies carry a key so that a retry is exactly-once.
    private readonly bool _sharedStore;

    public ControlPlaneService(
        CartRuntime runtime,
        NodeIdentity identity,
        NodeReadiness readiness,
        ClusterView view,
        ClusterMembership membership,
        PeerClients peers,
        NodeMetrics metrics,
        IOptions<ClusterOptions> clusterOptions,
        IOptions<NodeOptions> nodeOptions,
        TimeProvider time,
        ILogger<ControlPlaneService> logger)
    {
        _runtime = runtime;
        _identity = identity;
        _readiness = readiness;
        _view = view;
        _membership = membership;
        _peers = peers;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _forwardTimeout = clusterOptions.Value.ForwardTimeout;
        _forwardAttemptTimeout = clusterOptions.Value.ForwardAttemptTimeout;
        _maxIdsPerAnnouncement = nodeOptions.Value.MaxIdsPerAnnouncement;
        _sharedStore = runtime.Store is { IsShared: true };
    }

    private static readonly Status IdZero = new(StatusCode.InvalidArgument, "id must not be 0");
    private static readonly Status NoMessages = new(StatusCode.InvalidArgument, "messages must hold at least one mutation");

    public override Task<ApplyResult> Apply(ApplyRequest request, ServerCallContext context) =>
        Apply(request, context, Services.IdempotencyKeyHeader.Read(context));

    /// <summary>Apply with the idempotency key given here rather than read from the call's header (the storefront's merge steps).</summary>
    internal Task<ApplyResult> Apply(ApplyRequest request, ServerCallContext context, string? key)
    {
        var pending = ApplyAsync(request, CartCall.Of(context), key);
        return pending.IsCompletedSuccessfully
            ? Task.FromResult(pending.Result.ReplyFor(context)!)
            : Awaited(pending, context);

        static async Task<ApplyResult> Awaited(ValueTask<CartAnswer<ApplyResult>> pending, ServerCallContext context) =>
            (await pending.ConfigureAwait(false)).ReplyFor(context)!;
    }

    public override Task<GetReply> Get(GetRequest request, ServerCallContext context)
    {
        var pending = GetAsync(request.Id, CartCall.Of(context));
        return pending.IsCompletedSuccessfully
            ? Task.FromResult(new GetReply { Grain = pending.Result.ReplyFor(context) })
            : Awaited(pending, context);

        static async Task<GetReply> Awaited(ValueTask<CartAnswer<Any>> pending, ServerCallContext context) =>
            new() { Grain = (await pending.ConfigureAwait(false)).ReplyFor(context) };
    }

    /// <summary>
    /// The one Apply path, whichever endpoint received the call: the local cart on a node-local store at once,
    /// everything else through the routing loop. Refusals made here are answers, not exceptions.
    /// </summary>
    internal ValueTask<CartAnswer<ApplyResult>> ApplyAsync(ApplyRequest request, CartCall call, string? key)
    {
        if (request.Id == 0)
        {
            return new(CartAnswer<ApplyResult>.Refused(IdZero));
        }

        if (request.Messages.Count == 0)
        {
            return new(CartAnswer<ApplyResult>.Refused(NoMessages));
        }

        return NodeTracing.IsOn ? ApplyTraced(request, call, key) : ApplyUntraced(request, call, key);
    }

    private ValueTask<CartAnswer<ApplyResult>> ApplyUntraced(ApplyRequest request, CartCall call, string? key)
    {
        if (!IsMember(out var refusal))
        {
            return new(CartAnswer<ApplyResult>.Refused(refusal));
        }

        var lookup = _view.Map.Lookup(request.Id);
        if (lookup.Kind == OwnerKind.Local && !_sharedStore && !_membership.IsViewStale())
        {
            NodeTracing.Routed(lookup);
            return ApplyLocal(request, key);
        }

        return ApplyRoutedAsync(request, call, key);
    }

    /// <summary>The one Get path, whichever endpoint received the call; the answer is the packed state (an Any).</summary>
    internal ValueTask<CartAnswer<Any>> GetAsync(ulong cartId, CartCall call)
    {
        if (cartId == 0)
        {
            return new(CartAnswer<Any>.Refused(IdZero));
        }

        return NodeTracing.IsOn ? GetTraced(cartId, call) : GetUntraced(cartId, call);
    }

    private ValueTask<CartAnswer<Any>> GetUntraced(ulong cartId, CartCall call)
    {
        if (!IsMember(out var refusal))
        {
            return new(CartAnswer<Any>.Refused(refusal));
        }

        var lookup = _view.Map.Lookup(cartId);
        if (lookup.Kind == OwnerKind.Local && !_membership.IsViewStale())
        {
            NodeTracing.Routed(lookup);
            return GetLocal(cartId);
        }

        return GetRoutedAsync(cartId, call);
    }

    public override Task<PingReply> Ping(Empty request, ServerCallContext context)
    {
        if (_membership.IsStandalone && ForwardingHeaders.Read(context, ForwardingHeaders.Sender) is not null)
        {
            // A peer's membership probe: never let a cluster count a node whose carts live on its own disk.
            throw new RpcException(NotAMember);
        }

        // Only a full member answers: peers add a host to their ring only after it has answered a Ping
        // itself, so a joining node is never handed carts, and one that has left is not taken back. A node
        // waiting out its drain delay is still a member and answers.
        if (!_membership.IsJoined)
        {
            throw new RpcException(_membership.IsLeaving ? LeftStatus : Joining);
        }

        return Task.FromResult(new PingReply { Host = _identity.AdvertisedHost, UnixTime = _time.GetUtcNow().ToUnixTimeSeconds() });
    }

    public override Task<NegotiateReply> Negotiate(NegotiateRequest request, ServerCallContext context)
    {
        for (var i = 0; i < request.KnownHosts.Count; i++)
        {
            RequireHost(request.KnownHosts[i], $"known_hosts[{i}]");
        }

        _membership.Learn(request.KnownHosts);
        var reply = new NegotiateReply();
        reply.Hosts.AddRange(_membership.HealthyHosts());
        return Task.FromResult(reply);
    }

    public override Task<ActorIdsReply> GetLocalActorIds(Empty request, ServerCallContext context)
    {
        var reply = new ActorIdsReply();
        reply.Ids.AddRange(_runtime.GetLocalCartIds());
        return Task.FromResult(reply);
    }

    /// <summary>
    /// The seed's first-touch claims (best effort, "hints"), from the design before the ring was authoritative: a
    /// cart's owner is the ring's answer here, so nothing would ever read a claim. Checked and acknowledged, kept
    /// nowhere; this node sends none.
    /// </summary>
    public override Task<OwnerChangeAck> AnnounceOwnership(OwnershipAnnounce request, ServerCallContext context)
    {
        RequireHost(request.Host, "host");
        RequireAnnouncementSize(request.Ids.Count);
        return Task.FromResult(new OwnerChangeAck { Accepted = true, Message = $"{request.Ids.Count} claims from {request.Host} acknowledged; not kept: the ring decides ownership" });
    }

    /// <summary>The seed's expiry of first-touch claims: acknowledged like them, with nothing to drop (see <see cref="AnnounceOwnership"/>).</summary>
    public override Task<OwnerChangeAck> AnnounceExpiry(ExpiryAnnounce request, ServerCallContext context)
    {
        RequireHost(request.Host, "host");
        RequireAnnouncementSize(request.Ids.Count);
        return Task.FromResult(new OwnerChangeAck { Accepted = true, Message = $"{request.Ids.Count} expiries from {request.Host} acknowledged; no claims are kept: the ring decides ownership" });
    }

    public override Task<OwnerChangeAck> Closing(ClosingNotice request, ServerCallContext context)
    {
        RequireHost(request.Host, "host");
        NodeLog.PeerClosing(_logger, request.Host);
        var removed = _membership.RemoveClosing(request.Host);
        return Task.FromResult(new OwnerChangeAck
        {
            Accepted = true,
            Message = removed ? $"{request.Host} removed from membership" : $"{request.Host} was not a known member",
        });
    }

    private static readonly Status LeftStatus = new(StatusCode.Unavailable, "this node has left the ring for shutdown");

    /// <summary>A node still joining has a partial ring: answering for a cart then could start a second history.</summary>
    private bool IsMember(out Status refusal)
    {
        if (!_membership.IsJoined && !_membership.IsLeaving)
        {
            refusal = Joining;
            return false;
        }

        _readiness.NoteRequest();
        refusal = Status.DefaultSuccess;
        return true;
    }

    // ---- Local path ----

    private ValueTask<CartAnswer<ApplyResult>> ApplyLocal(ApplyRequest request, string? key)
    {
        var pending = _runtime.ApplyAsync(request.Id, request.Messages, key);
        return pending.IsCompletedSuccessfully ? new(Served(pending.Result)) : ApplyAwaited(pending);
    }

    private ValueTask<CartAnswer<Any>> GetLocal(ulong cartId)
    {
        var pending = _runtime.GetAsync(cartId);
        return pending.IsCompletedSuccessfully ? new(Served(pending.Result)) : GetAwaited(pending);
    }

    private static async ValueTask<CartAnswer<Any>> GetAwaited(ValueTask<CartStateLease> pending) =>
        Served(await pending.ConfigureAwait(false));

    private static CartAnswer<Any> Served(CartStateLease lease) => CartAnswer<Any>.Served(lease.State, lease.AsDisposable());

    private static async ValueTask<CartAnswer<ApplyResult>> ApplyAwaited(ValueTask<ApplyOutcome> pending) =>
        Served(await pending.ConfigureAwait(false));

    // A replay's result was parsed from the cart's stored record (unknown fields and all); a fresh one was built here.
    private static CartAnswer<ApplyResult> Served(ApplyOutcome outcome) => outcome.IsReplay
        ? CartAnswer<ApplyResult>.Served(outcome.Result, outcome.AsDisposable())
        : CartAnswer<ApplyResult>.ServedBuiltHere(outcome.Result, outcome.AsDisposable());

    /// <summary>The work an announcement can start is bounded: a larger one is refused before any of it is done.</summary>
    private void RequireAnnouncementSize(int ids)
    {
        if (ids > _maxIdsPerAnnouncement)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"ids holds {ids} cart ids; at most {_maxIdsPerAnnouncement} are accepted in one announcement (Node:MaxIdsPerAnnouncement)"));
        }
    }

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
}

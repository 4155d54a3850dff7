using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using CartActor.Packing;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Services;

/// <summary>
/// The ControlPlane contract of the seed, served by a singleton. Apply and Get go straight to the cart
/// runtime; the pooled state bytes they return are released only after the response has been written
/// (RegisterForDispose runs when the request completes), never while grpc-dotnet may still serialise them.
/// </summary>
internal sealed class ControlPlaneService(
    CartRuntime runtime,
    NodeIdentity identity,
    MembershipView membership,
    OwnershipHints hints,
    TimeProvider time,
    ILogger<ControlPlaneService> logger) : ControlPlane.ControlPlane.ControlPlaneBase
{
    public const string IdempotencyKeyHeader = "idempotency-key";

    public override Task<ApplyResult> Apply(ApplyRequest request, ServerCallContext context)
    {
        var key = context.RequestHeaders.GetValue(IdempotencyKeyHeader);
        var pending = runtime.ApplyAsync(request.Id, request.Messages, key);
        return pending.IsCompletedSuccessfully
            ? Task.FromResult(Reply(pending.Result, context))
            : ApplyAwaited(pending, context);
    }

    public override Task<GetReply> Get(GetRequest request, ServerCallContext context)
    {
        var lease = runtime.Get(request.Id);
        context.GetHttpContext().Response.RegisterForDispose(lease.AsDisposable()!);
        return Task.FromResult(new GetReply { Grain = lease.State });
    }

    public override Task<PingReply> Ping(Empty request, ServerCallContext context) =>
        Task.FromResult(new PingReply { Host = identity.AdvertisedHost, UnixTime = time.GetUtcNow().ToUnixTimeSeconds() });

    public override Task<NegotiateReply> Negotiate(NegotiateRequest request, ServerCallContext context)
    {
        for (var i = 0; i < request.KnownHosts.Count; i++)
        {
            RequireHost(request.KnownHosts[i], $"known_hosts[{i}]");
        }

        foreach (var host in request.KnownHosts)
        {
            if (!membership.TryAdd(host))
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"this node already knows the maximum number of hosts; '{host}' was not added"));
            }
        }

        var reply = new NegotiateReply();
        reply.Hosts.AddRange(membership.Snapshot());
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
        var removed = membership.Remove(request.Host);
        var forgotten = hints.ForgetHost(request.Host);
        return Task.FromResult(new OwnerChangeAck
        {
            Accepted = true,
            Message = removed
                ? $"{request.Host} removed from membership; {forgotten} ownership hints dropped"
                : $"{request.Host} was not a known member; {forgotten} ownership hints dropped",
        });
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

using CartActor.Node.Forwarding;
using Grpc.Core;

namespace CartActor.Node.Services;

/// <summary>
/// What the Apply/Get path needs of a call, whichever endpoint received it (Grpc.AspNetCore's handler or
/// <see cref="Minimal.MinimalControlPlaneEndpoint"/>): its request, its deadline (DateTime.MaxValue when the
/// caller set none) and the token that ends it (the client's cancellation or the deadline).
/// </summary>
internal readonly struct CartCall(HttpContext http, DateTime deadline, CancellationToken cancellationToken)
{
    public HttpContext Http { get; } = http;

    public DateTime Deadline { get; } = deadline;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>A call a peer forwarded here (it carries the hop mark): it is never forwarded again.</summary>
    public bool IsForwarded => Http.Request.Headers.ContainsKey(ForwardingHeaders.Hop);

    public static CartCall Of(ServerCallContext context) => new(context.GetHttpContext(), context.Deadline, context.CancellationToken);
}

/// <summary>
/// The answer of the Apply/Get path: the reply and the hold on its pooled bytes (release it after the reply
/// has been written), or a refusal this node made itself, as a status (and trailers) rather than an exception.
/// Failures of the runtime and of a forward still arrive as exceptions; <see cref="CallStatus"/> maps both.
/// </summary>
internal readonly struct CartAnswer<T>
{
    private CartAnswer(T? reply, IDisposable? release, Status refusal, Metadata? trailers, bool isBuiltHere = false)
    {
        Reply = reply;
        Release = release;
        Refusal = refusal;
        Trailers = trailers;
        IsBuiltHere = isBuiltHere;
    }

    public T? Reply { get; }

    public IDisposable? Release { get; }

    /// <summary>OK when served.</summary>
    public Status Refusal { get; }

    public Metadata? Trailers { get; }

    public bool IsServed => Refusal.StatusCode == StatusCode.OK;

    /// <summary>
    /// The reply was built on this node for this call (a fresh local Apply, not a forward's reply nor a replay parsed
    /// from the store), so it holds no unknown fields of its own: the minimal endpoint may write it field by field.
    /// </summary>
    public bool IsBuiltHere { get; }

    public static CartAnswer<T> Served(T? reply, IDisposable? release) => new(reply, release, Status.DefaultSuccess, null);

    /// <summary>Served with a reply this node built for this call (see <see cref="IsBuiltHere"/>).</summary>
    public static CartAnswer<T> ServedBuiltHere(T? reply, IDisposable? release) => new(reply, release, Status.DefaultSuccess, null, isBuiltHere: true);

    public static CartAnswer<T> Refused(Status status, Metadata? trailers = null) => new(default, null, status, trailers);

    /// <summary>For Grpc.AspNetCore's handler: the reply, its bytes released once the response is written; a refusal becomes the RpcException it expects.</summary>
    public T? ReplyFor(ServerCallContext context)
    {
        if (!IsServed)
        {
            throw new RpcException(Refusal, Trailers ?? Metadata.Empty);
        }

        if (Release is { } release)
        {
            context.GetHttpContext().Response.RegisterForDispose(release);
        }

        return Reply;
    }
}

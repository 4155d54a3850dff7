using CartActor.Bench.Node.Noop;
using CartActor.ControlPlane;
using Grpc.Core;

namespace CartActor.Bench.Node;

/// <summary>
/// The ceiling: bench/Protos/noop.proto's Apply and Get, answering every call with one pre-built reply of
/// the same shape and size as the real node's (captured from it in set-up). Same Kestrel server, same
/// interceptors, same serialisation of the same messages; no cart logic. A singleton, like the real service.
/// </summary>
internal sealed class NoopControlPlaneService : NoopControlPlane.NoopControlPlaneBase
{
    private Task<ApplyResult>? _apply;
    private Task<GetReply>? _get;

    public ApplyResult? ApplyReply => _apply?.Result;

    public GetReply? GetReply => _get?.Result;

    /// <summary>Set once in set-up, before any measured call; the replies are only read (serialised) from then on.</summary>
    public void SetReplies(ApplyResult apply, GetReply get)
    {
        Volatile.Write(ref _apply, Task.FromResult(apply));
        Volatile.Write(ref _get, Task.FromResult(get));
    }

    public override Task<ApplyResult> Apply(ApplyRequest request, ServerCallContext context) =>
        _apply ?? throw new RpcException(new Status(StatusCode.FailedPrecondition, "no-op replies not set"));

    public override Task<GetReply> Get(GetRequest request, ServerCallContext context) =>
        _get ?? throw new RpcException(new Status(StatusCode.FailedPrecondition, "no-op replies not set"));
}

using Grpc.Core;

namespace CartActor.Node.Services;

/// <summary>
/// The one mapping from a failure of the Apply/Get path (or any RPC) to the gRPC status its caller sees, shared by
/// <see cref="StatusInterceptor"/> (Grpc.AspNetCore's pipeline) and <see cref="Minimal.MinimalControlPlaneEndpoint"/>,
/// so both answer a failure the same way. Runtime refusals map to INVALID_ARGUMENT / RESOURCE_EXHAUSTED / ...;
/// anything unexpected becomes INTERNAL with a fixed message (no stack trace leaves the node).
/// </summary>
internal static class CallStatus
{
    public static readonly Status Internal = new(StatusCode.Internal, "internal error; the failure was logged on the node");

    public static readonly Status Cancelled = new(StatusCode.Cancelled, "the call was cancelled by the client or its deadline");

    /// <summary>What the failed-request log says of a cancelled call.</summary>
    public const string CancelledDetail = "cancelled by the client or its deadline";

    private static readonly Metadata VersionMismatchTrailers = new() { { StatusInterceptor.VersionMismatchTrailer, "1" } };

    /// <summary>The status (and trailers) a runtime refusal is answered with.</summary>
    public static (Status Status, Metadata? Trailers) Of(CartRuntimeException ex)
    {
        var code = ex.Error switch
        {
            CartRequestError.Overloaded => StatusCode.ResourceExhausted,
            CartRequestError.StoreUnavailable => StatusCode.Unavailable,
            CartRequestError.Conflict => StatusCode.Aborted,
            CartRequestError.Corrupt => StatusCode.DataLoss,
            CartRequestError.VersionMismatch => StatusCode.Aborted,
            _ => StatusCode.InvalidArgument,
        };
        return (new Status(code, ex.Message), ex.Error == CartRequestError.VersionMismatch ? VersionMismatchTrailers : null);
    }
}

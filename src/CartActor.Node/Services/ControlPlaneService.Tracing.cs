using System.Diagnostics;
using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using Grpc.Core;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Services;

/// <summary>
/// Apply and Get while tracing is on (<see cref="NodeTracing.IsOn"/>): the same path inside a server span, whichever
/// endpoint received the call. The span starts inside these async methods, so it is the current span for the whole
/// call (the routing loop tags it, a forward becomes its child, the cart runtime hands it to the store write) and
/// stops being current for the caller when they return. A refusal answered without an exception marks the span
/// failed as the exception would.
/// </summary>
internal sealed partial class ControlPlaneService
{
    private async ValueTask<CartAnswer<ApplyResult>> ApplyTraced(ApplyRequest request, CartCall call, string? key)
    {
        using var span = NodeTracing.StartCall("Apply", request.Id, call.Http, _identity.AdvertisedHost);
        try
        {
            var answer = await ApplyUntraced(request, call, key).ConfigureAwait(false);
            Refused(span, answer.IsServed, answer.Refusal);
            return answer;
        }
        catch (Exception ex)
        {
            NodeTracing.Failed(span, ex);
            throw;
        }
    }

    private async ValueTask<CartAnswer<Any>> GetTraced(ulong cartId, CartCall call)
    {
        using var span = NodeTracing.StartCall("Get", cartId, call.Http, _identity.AdvertisedHost);
        try
        {
            var answer = await GetUntraced(cartId, call).ConfigureAwait(false);
            Refused(span, answer.IsServed, answer.Refusal);
            return answer;
        }
        catch (Exception ex)
        {
            NodeTracing.Failed(span, ex);
            throw;
        }
    }

    private static void Refused(Activity? span, bool served, Status refusal)
    {
        if (!served)
        {
            NodeTracing.Failed(span, new RpcException(refusal));
        }
    }
}

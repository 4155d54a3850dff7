using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using Grpc.Core;

namespace CartActor.Node.Services;

/// <summary>
/// Apply and Get while tracing is on (<see cref="NodeTracing.IsOn"/>): the same path inside a server span. The
/// span starts inside these async methods, so it is the current span for the whole call (the routing loop tags
/// it, a forward becomes its child, the cart runtime hands it to the store write) and stops being current for
/// the caller when they return.
/// </summary>
internal sealed partial class ControlPlaneService
{
    private async Task<ApplyResult> ApplyTraced(ApplyRequest request, ServerCallContext context, string? key)
    {
        using var span = NodeTracing.StartCall("Apply", request.Id, context.GetHttpContext(), _identity.AdvertisedHost);
        try
        {
            return await ApplyUntraced(request, context, key).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            NodeTracing.Failed(span, ex);
            throw;
        }
    }

    private async Task<GetReply> GetTraced(GetRequest request, ServerCallContext context)
    {
        using var span = NodeTracing.StartCall("Get", request.Id, context.GetHttpContext(), _identity.AdvertisedHost);
        try
        {
            return await GetUntraced(request, context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            NodeTracing.Failed(span, ex);
            throw;
        }
    }
}

using Grpc.Core;

namespace CartActor.Node.Services;

/// <summary>
/// The one reading of the <c>idempotency-key</c> header, shared by both endpoints (Grpc.AspNetCore's services and
/// <see cref="Minimal.MinimalControlPlaneEndpoint"/>). A call that carries the header twice is refused: Kestrel joins
/// repeated fields as "a,b", a key no client ever chose, which would make a retry that carried the header once look
/// like another request (refused as a reused key) or, worse, make two clients' calls share a key.
/// </summary>
internal static class IdempotencyKeyHeader
{
    public const string Name = "idempotency-key";

    public static readonly Status Repeated = new(StatusCode.InvalidArgument, Name + " must be sent at most once; this call carried it more than once");

    /// <summary>The key the call carries, or null; false when the header came more than once (answer <see cref="Repeated"/>).</summary>
    public static bool TryRead(IHeaderDictionary headers, out string? key)
    {
        if (!headers.TryGetValue(Name, out var values))
        {
            key = null;
            return true;
        }

        if (values.Count > 1)
        {
            key = null;
            return false;
        }

        key = values.Count == 1 ? values[0] : null;
        return true;
    }

    /// <summary>The key of a Grpc.AspNetCore call; throws the <see cref="Repeated"/> refusal when the header came more than once.</summary>
    public static string? Read(ServerCallContext context) =>
        TryRead(context.GetHttpContext().Request.Headers, out var key) ? key : throw new RpcException(Repeated);
}

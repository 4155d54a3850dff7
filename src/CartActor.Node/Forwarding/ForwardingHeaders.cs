using CartActor.Ownership;
using Grpc.Core;

namespace CartActor.Node.Forwarding;

/// <summary>
/// Metadata that marks node-to-node calls. A forwarded call carries the hop, the sender's ring id and the
/// sender. A node that does not serve the cart in its own view answers UNAVAILABLE instead of forwarding
/// again, with its own ring id in the <see cref="RingId"/> trailer: the sender refreshes its view only
/// when the two differ, and retries.
/// </summary>
public static class ForwardingHeaders
{
    public const string Hop = "x-cart-hop";
    public const string RingId = "x-cart-ring";
    public const string Sender = "x-cart-sender";

    /// <summary>
    /// Every mark a peer adds to a call. A call carrying any of them is honoured only from an authenticated peer
    /// (<see cref="Services.PeerAuthInterceptor"/>): add a new mark here.
    /// </summary>
    public static readonly string[] InternalMarks = [Hop, RingId, Sender];

    public static bool IsForwarded(ServerCallContext context) => Read(context, Hop) is not null;

    /// <summary>
    /// One request header, read from Kestrel's own header collection. <see cref="ServerCallContext.RequestHeaders"/>
    /// would first copy every header of the call into a new Metadata, on every Apply and Get.
    /// </summary>
    public static string? Read(ServerCallContext context, string name) =>
        context.GetHttpContext().Request.Headers.TryGetValue(name, out var values) ? values.ToString() : null;

    /// <summary>The marks of a call forwarded under <paramref name="ring"/>: the hop, the ring id and the sender.</summary>
    public static Metadata For(RingSnapshot ring) => new()
    {
        { Hop, "1" },
        { RingId, FormatRingId(ring.RingId) },
        { Sender, ring.Self },
    };

    /// <summary>The trailers of a refusal: this node's ring id, so the sender can tell whether its view differs.</summary>
    public static Metadata RefusalTrailers(RingSnapshot ring) => new() { { RingId, FormatRingId(ring.RingId) } };

    /// <summary>The ring id a refusal carried, or null (a refusal from outside the ring logic, or a transport failure).</summary>
    public static string? RefusalRingId(RpcException ex) => ex.Trailers.GetValue(RingId);

    public static string FormatRingId(ulong ringId) => ringId.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}

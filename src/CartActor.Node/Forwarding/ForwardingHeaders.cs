using System.Globalization;
using CartActor.Ownership;
using Grpc.Core;

namespace CartActor.Node.Forwarding;

/// <summary>
/// Metadata that marks node-to-node calls. A forwarded call carries the hop and the sender's ring id; a
/// node that does not own the cart in its own view answers UNAVAILABLE instead of forwarding again, so a
/// cart never gets two histories while views disagree. A Get marked <see cref="Handoff"/> is a new owner
/// taking a cart (<see cref="Take"/>), or confirming it has written what it took (<see cref="Taken"/>).
/// </summary>
public static class ForwardingHeaders
{
    public const string Hop = "x-cart-hop";
    public const string RingId = "x-cart-ring";
    public const string Handoff = "x-cart-handoff";
    public const string Sender = "x-cart-sender";

    public static bool IsForwarded(ServerCallContext context) => Read(context, Hop) is not null;

    /// <summary>The value of <see cref="Handoff"/> on a take: export the cart and drop it from memory.</summary>
    public const string Take = "take";

    private const string TakenPrefix = "taken=";

    /// <summary>The value of <see cref="Handoff"/> that confirms a take: the new owner has written the cart at this version.</summary>
    public static string Taken(ulong version) => TakenPrefix + version.ToString(CultureInfo.InvariantCulture);

    /// <summary>The version a <see cref="Handoff"/> value confirms, or null when it asks for a take (any other value).</summary>
    public static ulong? TakenVersion(string? value) =>
        value is not null && value.StartsWith(TakenPrefix, StringComparison.Ordinal)
        && ulong.TryParse(value.AsSpan(TakenPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? version
            : null;

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
        { RingId, ring.RingId.ToString("x16") },
        { Sender, ring.Self },
    };
}

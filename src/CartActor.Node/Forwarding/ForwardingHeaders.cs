using Grpc.Core;

namespace CartActor.Node.Forwarding;

/// <summary>
/// Metadata that marks node-to-node calls. A forwarded call carries the hop and the sender's ring id; a
/// node that does not own the cart in its own view answers UNAVAILABLE instead of forwarding again, so a
/// cart never gets two histories while views disagree.
/// </summary>
public static class ForwardingHeaders
{
    public const string Hop = "x-cart-hop";
    public const string RingId = "x-cart-ring";
    public const string Handoff = "x-cart-handoff";
    public const string Sender = "x-cart-sender";

    public static bool IsForwarded(Metadata headers) => headers.GetValue(Hop) is not null;

    public static bool IsHandoff(Metadata headers) => headers.GetValue(Handoff) is not null;
}

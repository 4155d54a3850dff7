using CartActor.Cart.Messages;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Cart.Handlers;

/// <summary>
/// One mutation type: decodes its message from an <see cref="Any"/> and applies it. A handler validates
/// everything before it changes anything, so a refused mutation leaves the cart exactly as it was.
/// </summary>
public abstract class MutationHandler
{
    public abstract MessageDescriptor Descriptor { get; }

    /// <summary>The short name reported in MutationResult.type, e.g. "AddItem".</summary>
    public string Name => Descriptor.Name;

    public string TypeUrl => "type.googleapis.com/" + Descriptor.FullName;

    /// <summary>True for item, delivery and voucher mutations: a change during CHECKOUT moves the cart back to OPEN.</summary>
    public abstract bool ReopensCheckout { get; }

    /// <summary>True for the merge steps on the source: the only mutations a MERGING or MERGED cart runs (they check the target themselves).</summary>
    public virtual bool AppliesToMergingSource => false;

    public abstract MutationOutcome Apply(CartModel cart, Any payload);
}

/// <summary>The typed base every mutation handler derives from.</summary>
public abstract class MutationHandler<TMessage> : MutationHandler
    where TMessage : class, IMessage<TMessage>, new()
{
    private static readonly MessageDescriptor MessageDescriptor = new TMessage().Descriptor;

    // The generated parser (its factory is a plain `new AddItem()`): a parser built here on `new TMessage()` creates
    // each message through Activator (RuntimeType.CreateInstanceOfT, about 1 % of a node's Apply in the issue 12 profile).
    private static readonly MessageParser<TMessage> Parser = (MessageParser<TMessage>)MessageDescriptor.Parser;

    public sealed override MessageDescriptor Descriptor => MessageDescriptor;

    public sealed override MutationOutcome Apply(CartModel cart, Any payload)
    {
        TMessage message;
        try
        {
            // From the span: parsing a ByteString allocates a CodedInputStream (168 B) per mutation.
            message = Parser.ParseFrom(payload.Value.Span);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return MutationOutcome.Fail($"could not decode {MessageDescriptor.FullName}: {ex.Message}");
        }

        return Apply(cart, message);
    }

    protected abstract MutationOutcome Apply(CartModel cart, TMessage mutation);

    protected static bool IsTooLong(string text) => text.Length > CartLimits.MaxTextLength;
}

using CartActor.Cart.Handlers;
using CartActor.Cart.Messages;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Cart;

/// <summary>
/// The one place that maps a mutation's type to its handler. A new mutation is one message in cart.proto
/// plus one handler added here. Immutable after construction, shared by every shard.
/// </summary>
public sealed class MutationRegistry
{
    private readonly Dictionary<string, MutationHandler> _byFullName;
    private readonly Dictionary<string, MutationHandler>.AlternateLookup<ReadOnlySpan<char>> _byFullNameSpan;

    public MutationRegistry(IEnumerable<MutationHandler> handlers)
    {
        _byFullName = new Dictionary<string, MutationHandler>(StringComparer.Ordinal);
        foreach (var handler in handlers)
        {
            _byFullName.Add(handler.Descriptor.FullName, handler);
        }

        _byFullNameSpan = _byFullName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static MutationRegistry Default { get; } = new(
    [
        new AddItemHandler(),
        new RemoveItemHandler(),
        new ChangeQuantityHandler(),
        new ClearCartHandler(),
        new SetDeliveryHandler(),
        new RemoveDeliveryHandler(),
        new AddVoucherHandler(),
        new RemoveVoucherHandler(),
        new BeginCheckoutHandler(),
        new CompleteOrderHandler(),
        new SetCartAttributesHandler(),
        new SetItemAttributesHandler(),
        new ExpectVersionHandler(),
        new BeginMergeHandler(),
        new ApplyMergeHandler(),
        new CompleteMergeHandler(),
        new AbortMergeHandler(),
    ]);

    public IEnumerable<MutationHandler> Handlers => _byFullName.Values;

    /// <summary>Finds the handler for a type URL of any prefix ("type.googleapis.com/cart_messages.AddItem").</summary>
    public bool TryGetHandler(string typeUrl, out MutationHandler handler)
    {
        var slash = typeUrl.LastIndexOf('/');
        return _byFullNameSpan.TryGetValue(typeUrl.AsSpan(slash + 1), out handler!);
    }

    /// <summary>
    /// Applies one mutation under the cart-wide rules: an ORDERED cart refuses everything, an unknown type
    /// is refused by name, and a changing item/delivery/voucher mutation reopens a cart in CHECKOUT.
    /// </summary>
    public MutationOutcome Apply(CartModel cart, Any mutation, out string typeName)
    {
        var typeUrl = mutation.TypeUrl;
        if (!TryGetHandler(typeUrl, out var handler))
        {
            typeName = ShortName(typeUrl);
            return MutationOutcome.Fail(typeUrl.Length == 0
                ? "mutation has an empty type_url"
                : $"unknown mutation type '{Bounded(typeUrl)}'");
        }

        typeName = handler.Name;
        if (cart.State.Status == CartStatus.Ordered)
        {
            return MutationOutcome.Fail($"{handler.Name}: the cart is ORDERED and accepts no further changes");
        }

        if (cart.State.Status is CartStatus.Merging or CartStatus.Merged && !handler.AppliesToMergingSource)
        {
            return MutationOutcome.Fail($"{handler.Name}: the cart is {cart.State.Status.ToString().ToUpperInvariant()} into cart {cart.State.MergedInto} and accepts no changes");
        }

        var outcome = handler.Apply(cart, mutation);
        if (outcome.IsChanged && handler.ReopensCheckout && cart.State.Status == CartStatus.Checkout)
        {
            cart.State.Status = CartStatus.Open;
        }

        return outcome;
    }

    /// <summary>The type a result reports for a mutation: its handler's name, or the short name of an unknown type URL.</summary>
    public string TypeName(string typeUrl) => TryGetHandler(typeUrl, out var handler) ? handler.Name : ShortName(typeUrl);

    /// <summary>Client text echoed in a result is cut to this many characters: a type URL can be as long as the request.</summary>
    public const int MaxEchoedTypeLength = 128;

    private static string ShortName(string typeUrl)
    {
        var start = typeUrl.LastIndexOf('/') + 1;
        var dot = typeUrl.LastIndexOf('.');
        return Bounded(dot >= start ? typeUrl[(dot + 1)..] : typeUrl[start..]);
    }

    private static string Bounded(string text) =>
        text.Length <= MaxEchoedTypeLength ? text : string.Concat(text.AsSpan(0, MaxEchoedTypeLength - 3), "...");
}

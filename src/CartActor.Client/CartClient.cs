using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace CartActor.Client;

/// <summary>
/// A storefront's handle on a CartActor cluster: typed changes in, the cart's new <see cref="CartState"/> out,
/// over the typed contract cartactor.cart.v1.CartService. Every node accepts every cart (it forwards to the
/// owner), so one address (a load-balanced Service) is enough. Each change carries an idempotency key, generated
/// per logical call and reused by its retries; each call has a deadline; UNAVAILABLE and failed connections are
/// retried a bounded number of times with back-off and jitter (<see cref="CartClientOptions"/>). Other failures
/// surface as <see cref="RpcException"/>: FAILED_PRECONDITION for a cart rule that refused the change (nothing
/// changed), ABORTED for an <see cref="CartCallOptions.ExpectedVersion"/> that did not match, INVALID_ARGUMENT,
/// DEADLINE_EXCEEDED. Thread-safe; make one per process and share it.
/// </summary>
public sealed class CartClient : IDisposable
{
    private readonly CartService.CartServiceClient _client;
    private readonly RetryingCaller _caller;
    private readonly GrpcChannel? _ownedChannel;

    /// <summary>A client on its own channel to <paramref name="address"/> (e.g. http://cart:1337; h2c unless https); disposed with it.</summary>
    public CartClient(Uri address, CartClientOptions? options = null)
        : this(GrpcChannel.ForAddress(address), options, ownsChannel: true)
    {
    }

    /// <summary>A client on a channel the caller owns (and configures: TLS, handlers, load balancing).</summary>
    public CartClient(GrpcChannel channel, CartClientOptions? options = null)
        : this(channel, options, ownsChannel: false)
    {
    }

    /// <summary>A client over a call invoker the caller owns (a channel with interceptors: <c>channel.Intercept(...)</c>).</summary>
    public CartClient(CallInvoker invoker, CartClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(invoker);
        _client = new CartService.CartServiceClient(invoker);
        _caller = NewCaller(options);
    }

    private CartClient(GrpcChannel channel, CartClientOptions? options, bool ownsChannel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        _client = new CartService.CartServiceClient(channel);
        _caller = NewCaller(options);
        _ownedChannel = ownsChannel ? channel : null;
    }

    /// <summary>The cart as it is now; an untouched cart is empty, OPEN, version 0.</summary>
    public Task<CartState> GetAsync(ulong cartId, CartCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _caller.CallAsync(_client.GetCartAsync, new GetCartRequest { CartId = cartId }, changesCart: false, options, cancellationToken);

    /// <summary>Adds a line (or to the quantity of the same sku's line).</summary>
    public Task<CartState> AddItemAsync(ulong cartId, AddItem item, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        var request = new AddItemRequest { CartId = cartId, Item = item };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.AddItemAsync, request, options, cancellationToken);
    }

    /// <summary>Sets a line's quantity; 0 removes the line.</summary>
    public Task<CartState> ChangeQuantityAsync(ulong cartId, uint itemId, int quantity, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = new ChangeQuantityRequest { CartId = cartId, ItemId = itemId, Quantity = quantity };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.ChangeQuantityAsync, request, options, cancellationToken);
    }

    /// <summary>Removes a line by its item id.</summary>
    public Task<CartState> RemoveItemAsync(ulong cartId, uint itemId, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = new RemoveItemRequest { CartId = cartId, ItemId = itemId };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.RemoveItemAsync, request, options, cancellationToken);
    }

    /// <summary>Removes every line.</summary>
    public Task<CartState> ClearAsync(ulong cartId, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = new ClearCartRequest { CartId = cartId };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.ClearCartAsync, request, options, cancellationToken);
    }

    /// <summary>Adds a delivery (provider, price, the lines it carries).</summary>
    public Task<CartState> SetDeliveryAsync(ulong cartId, SetDelivery delivery, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var request = new SetDeliveryRequest { CartId = cartId, Delivery = delivery };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.SetDeliveryAsync, request, options, cancellationToken);
    }

    /// <summary>Removes a delivery by its id.</summary>
    public Task<CartState> RemoveDeliveryAsync(ulong cartId, uint deliveryId, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = new RemoveDeliveryRequest { CartId = cartId, DeliveryId = deliveryId };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.RemoveDeliveryAsync, request, options, cancellationToken);
    }

    /// <summary>Adds a voucher.</summary>
    public Task<CartState> AddVoucherAsync(ulong cartId, AddVoucher voucher, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(voucher);
        var request = new AddVoucherRequest { CartId = cartId, Voucher = voucher };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.AddVoucherAsync, request, options, cancellationToken);
    }

    /// <summary>Removes a voucher by its id.</summary>
    public Task<CartState> RemoveVoucherAsync(ulong cartId, uint voucherId, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = new RemoveVoucherRequest { CartId = cartId, VoucherId = voucherId };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.RemoveVoucherAsync, request, options, cancellationToken);
    }

    /// <summary>Locks the cart for checkout (CHECKOUT); changes to lines are refused until the order completes.</summary>
    public Task<CartState> BeginCheckoutAsync(ulong cartId, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = new BeginCheckoutRequest { CartId = cartId };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.BeginCheckoutAsync, request, options, cancellationToken);
    }

    /// <summary>Closes a cart in checkout as the order <paramref name="orderReference"/>.</summary>
    public Task<CartState> CompleteOrderAsync(ulong cartId, string orderReference, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(orderReference);
        var request = new CompleteOrderRequest { CartId = cartId, OrderReference = orderReference };
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return Change(_client.CompleteOrderAsync, request, options, cancellationToken);
    }

    /// <summary>Several changes applied in order as one step (one version check, one key); each has its own result.</summary>
    public Task<MutateReply> MutateAsync(ulong cartId, IEnumerable<Mutation> mutations, CartCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mutations);
        var request = new MutateRequest { CartId = cartId };
        request.Mutations.AddRange(mutations);
        if (options?.ExpectedVersion is { } version) request.ExpectedVersion = version;
        return _caller.CallAsync(_client.MutateAsync, request, changesCart: true, options, cancellationToken);
    }

    /// <summary>Guest to customer at sign-in: moves <paramref name="sourceId"/>'s contents into <paramref name="targetId"/>.</summary>
    public Task<MergeCartsReply> MergeAsync(ulong targetId, ulong sourceId, MergeStrategy strategy = MergeStrategy.MergeLines, CartCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _caller.CallAsync(_client.MergeCartsAsync, new MergeCartsRequest { TargetId = targetId, SourceId = sourceId, Strategy = strategy }, changesCart: true, options, cancellationToken);

    /// <summary>Disposes the channel this client created (not one it was given).</summary>
    public void Dispose() => _ownedChannel?.Dispose();

    private static RetryingCaller NewCaller(CartClientOptions? options)
    {
        options ??= new CartClientOptions();
        options.Validate();
        return new RetryingCaller(options, TimeProvider.System);
    }

    private Task<CartState> Change<TRequest>(Func<TRequest, CallOptions, AsyncUnaryCall<CartState>> call, TRequest request, CartCallOptions? options, CancellationToken cancellationToken) =>
        _caller.CallAsync(call, request, changesCart: true, options, cancellationToken);
}

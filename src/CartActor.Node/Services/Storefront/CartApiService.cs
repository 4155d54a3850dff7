using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using CartActor.Node.Forwarding;
using CartActor.Node.Membership;
using Grpc.Core;

namespace CartActor.Node.Services.Storefront;

/// <summary>
/// cartactor.cart.v1.CartService: the storefront's typed API (gRPC, gRPC-Web and JSON/HTTP). It owns no
/// routing of its own: every call becomes the same ApplyRequest / GetRequest that ControlPlane/Apply and Get
/// take and runs through <see cref="ControlPlaneService"/> (ownership, forwarding, the mailbox, the store and
/// the idempotency window read from the same `idempotency-key` header), so there is one path, not two.
/// expected_version (JSON: If-Match) travels as an ExpectVersion first in the batch and is checked on the
/// owner, in the cart's mailbox. Singleton, stateless.
/// </summary>
internal sealed partial class CartApiService(
    ControlPlaneService controlPlane,
    MergeCoordinator merges,
    CartRuntime runtime,
    ClusterView view,
    PeerClients peers)
    : CartService.CartServiceBase
{
    public override Task<CartState> GetCart(GetCartRequest request, ServerCallContext context) => GetStateAsync(request.CartId, context);

    public override Task<CartState> AddItem(AddItemRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, Required(request.Item, "item"), request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> ChangeQuantity(ChangeQuantityRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, new ChangeQuantity { ItemId = request.ItemId, Quantity = request.Quantity }, request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> RemoveItem(RemoveItemRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, new RemoveItem { ItemId = request.ItemId }, request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> ClearCart(ClearCartRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, new ClearCart(), request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> SetDelivery(SetDeliveryRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, Required(request.Delivery, "delivery"), request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> RemoveDelivery(RemoveDeliveryRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, new RemoveDelivery { DeliveryId = request.DeliveryId }, request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> AddVoucher(AddVoucherRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, Required(request.Voucher, "voucher"), request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> RemoveVoucher(RemoveVoucherRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, new RemoveVoucher { VoucherId = request.VoucherId }, request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> BeginCheckout(BeginCheckoutRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, new BeginCheckout(), request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override Task<CartState> CompleteOrder(CompleteOrderRequest request, ServerCallContext context) =>
        SingleAsync(request.CartId, new CompleteOrder { OrderReference = request.OrderReference }, request.HasExpectedVersion ? request.ExpectedVersion : null, context);

    public override async Task<MutateReply> Mutate(MutateRequest request, ServerCallContext context)
    {
        if (request.Mutations.Count == 0)
        {
            throw new RpcException(TypedMutations.NoMutations);
        }

        var expected = request.HasExpectedVersion ? request.ExpectedVersion : ETags.IfMatch(context);
        var apply = TypedMutations.Batch(request.CartId, expected, request.Mutations, out var skip);
        var result = await ApplyAsync(apply, context).ConfigureAwait(false);
        var reply = new MutateReply { Cart = StateOf(result, context) };
        for (var i = skip; i < result.Mutations.Count; i++)
        {
            var mutation = result.Mutations[i];
            var outcome = new Cart.V1.MutationOutcome { Type = mutation.Type };
            if (mutation.HasError)
            {
                outcome.Error = mutation.Error;
            }

            reply.Results.Add(outcome);
        }

        return reply;
    }

    public override Task<MergeCartsReply> MergeCarts(MergeCartsRequest request, ServerCallContext context) => merges.MergeAsync(request, context);

    /// <summary>Reads a cart through ControlPlane's Get (its routing); the state is decoded before the lease is released.</summary>
    internal async Task<CartState> GetStateAsync(ulong cartId, ServerCallContext context)
    {
        var reply = await controlPlane.Get(new GetRequest { Id = cartId }, context).ConfigureAwait(false);
        var state = CartState.Parser.ParseFrom(reply.Grain.Value);
        ETags.Set(context, state.Version);
        ETags.NotModifiedIfCurrent(context, state.Version);
        return state;
    }

    /// <summary>ControlPlane's Apply; a version mismatch (here, or on the owner) is 412 for a JSON request that sent If-Match.</summary>
    private async Task<ApplyResult> ApplyAsync(ApplyRequest apply, ServerCallContext context)
    {
        try
        {
            return await controlPlane.Apply(apply, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsVersionMismatch(ex))
        {
            ETags.VersionMismatch(context);
            throw;
        }
    }

    private static bool IsVersionMismatch(Exception ex) =>
        ex is CartRuntimeException { Error: CartRequestError.VersionMismatch }
        || (ex is RpcException { StatusCode: StatusCode.Aborted } rpc && rpc.Trailers.GetValue(StatusInterceptor.VersionMismatchTrailer) is not null);

    /// <summary>Applies one mutation; a refusal fails the call with FAILED_PRECONDITION naming the rule (it changed nothing).</summary>
    private async Task<CartState> SingleAsync(ulong cartId, IMessage mutation, ulong? expectedVersion, ServerCallContext context)
    {
        var apply = NewApply(cartId, expectedVersion, context, out _);
        apply.Messages.Add(Any.Pack(mutation));
        var result = await ApplyAsync(apply, context).ConfigureAwait(false);
        for (var i = 0; i < result.Mutations.Count; i++)
        {
            if (result.Mutations[i].HasError)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, result.Mutations[i].Error));
            }
        }

        return StateOf(result, context);
    }

    /// <summary>The ApplyRequest the typed call stands for: ExpectVersion first when a version is expected (field, else If-Match).</summary>
    private static ApplyRequest NewApply(ulong cartId, ulong? expectedVersion, ServerCallContext context, out int skip) =>
        TypedMutations.Start(cartId, expectedVersion ?? ETags.IfMatch(context), out skip);

    private static CartState StateOf(ApplyResult result, ServerCallContext context)
    {
        // Decoded now: the pooled bytes behind result.State go back to the pool once the response is written.
        var state = CartState.Parser.ParseFrom(result.State.Value);
        ETags.Set(context, state.Version);
        return state;
    }

    private static T Required<T>(T? message, string field)
        where T : class =>
        message ?? throw new RpcException(new Status(StatusCode.InvalidArgument, $"{field} must be set"));
}

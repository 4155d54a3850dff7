using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace CartActor.Node.Services;

/// <summary>
/// <see cref="ReplyBudget"/> for the unary calls Grpc.AspNetCore serves, as the minimal endpoint applies it: a call
/// that changes a cart (ControlPlane/Apply, every CartService RPC but GetCart) is refused before it runs while the
/// budget is spent; a read (Get, GetCart) whose reply of <see cref="ReplyBudget.TrackedReplyBytes"/> or more does not
/// fit is refused; any other large reply is counted. Refusals are the budget's RESOURCE_EXHAUSTED, inside
/// <see cref="StatusInterceptor"/> so they are counted. <see cref="ReplyBudgetFlush"/> flushes a counted reply under
/// the stall deadline after the handler returns and gives the bytes back.
/// </summary>
internal sealed class ReplyBudgetInterceptor(ReplyBudget budget) : Interceptor
{
    private const string ControlPlane = "/control_plane_messages.ControlPlane/";
    private const string CartService = "/cartactor.cart.v1.CartService/";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var method = context.Method;
        var isRead = method is ControlPlane + "Get" or CartService + "GetCart";
        var isWrite = !isRead && (method == ControlPlane + "Apply" || method.StartsWith(CartService, StringComparison.Ordinal));
        if (isWrite && budget.IsSpent)
        {
            throw new RpcException(budget.Refuse());
        }

        var response = await continuation(request, context).ConfigureAwait(false);
        if (response is IMessage message && message.CalculateSize() is var size && ReplyBudget.Tracks(size))
        {
            if (!isRead)
            {
                budget.Take(size);
            }
            else if (!budget.TryTake(size))
            {
                throw new RpcException(budget.Refusal);
            }

            context.GetHttpContext().Features.Set(new ReplyBudgetFlush.Charge(size));
        }

        return response;
    }
}

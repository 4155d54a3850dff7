using CartActor.Cart.V1;
using Google.Protobuf;
using Grpc.Core;

namespace CartActor.Node.Services.Storefront;

/// <summary>The typed batch's oneof, unwrapped to the cart_messages mutation it holds (packed as an Any at the edge).</summary>
internal static class TypedMutations
{
    private static readonly Google.Protobuf.Reflection.OneofAccessor Kind = Mutation.Descriptor.Oneofs[0].Accessor;

    public static IMessage Unwrap(Mutation mutation, int index)
    {
        var field = Kind.GetCaseFieldDescriptor(mutation)
            ?? throw new RpcException(new Status(StatusCode.InvalidArgument, $"mutations[{index}] holds no mutation"));
        return (IMessage)field.Accessor.GetValue(mutation);
    }
}

using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Grpc.Core;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Services.Storefront;

/// <summary>
/// The typed batch as the ControlPlane ApplyRequest it stands for, built the same way whichever endpoint received
/// the call (<see cref="CartApiService.Mutate"/> or the minimal endpoint): ExpectVersion first when a version is
/// expected, then each oneof unwrapped to the cart_messages mutation it holds, packed as an Any.
/// </summary>
internal static class TypedMutations
{
    public static readonly Status NoMutations = new(StatusCode.InvalidArgument, "mutations must hold at least one mutation");

    private static readonly Google.Protobuf.Reflection.OneofAccessor Kind = Mutation.Descriptor.Oneofs[0].Accessor;

    // The type URL of each oneof case, by field number, as Any.Pack writes it: built once rather than concatenated
    // for every mutation of every call.
    private static readonly string[] TypeUrls = BuildTypeUrls();

    /// <summary>The mutation packed as Any.Pack packs it (same type URL, same bytes).</summary>
    public static Any Pack(Mutation mutation, int index)
    {
        var field = CaseOf(mutation, index);
        return new Any { TypeUrl = TypeUrls[field.FieldNumber], Value = ((IMessage)field.Accessor.GetValue(mutation)).ToByteString() };
    }

    /// <summary>
    /// The ApplyRequest of a batch; <paramref name="skip"/> is how many leading results are not the caller's (the
    /// ExpectVersion). Throws RpcException (INVALID_ARGUMENT) for a mutation whose oneof is empty.
    /// </summary>
    public static ApplyRequest Batch(ulong cartId, ulong? expectedVersion, RepeatedField<Mutation> mutations, out int skip)
    {
        var apply = Start(cartId, expectedVersion, out skip);
        for (var i = 0; i < mutations.Count; i++)
        {
            apply.Messages.Add(Pack(mutations[i], i));
        }

        return apply;
    }

    /// <summary>An ApplyRequest holding only the ExpectVersion, when a version is expected.</summary>
    public static ApplyRequest Start(ulong cartId, ulong? expectedVersion, out int skip)
    {
        var apply = new ApplyRequest { Id = cartId };
        skip = 0;
        if (expectedVersion is { } version)
        {
            apply.Messages.Add(Any.Pack(new ExpectVersion { Version = version }));
            skip = 1;
        }

        return apply;
    }

    private static Google.Protobuf.Reflection.FieldDescriptor CaseOf(Mutation mutation, int index) =>
        Kind.GetCaseFieldDescriptor(mutation)
        ?? throw new RpcException(new Status(StatusCode.InvalidArgument, $"mutations[{index}] holds no mutation"));

    private static string[] BuildTypeUrls()
    {
        var fields = Mutation.Descriptor.Oneofs[0].Fields;
        var urls = new string[fields.Max(f => f.FieldNumber) + 1];
        foreach (var field in fields)
        {
            urls[field.FieldNumber] = "type.googleapis.com/" + field.MessageType.FullName;
        }

        return urls;
    }
}

using CartActor.Cart.V1;
using CartActor.Node.Services.Storefront;
using Google.Protobuf;
using Grpc.Core;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Tests.Storefront;

/// <summary>The typed batch packs each mutation exactly as Any.Pack would: the cart dispatches on the type URL.</summary>
public sealed class TypedMutationsTests
{
    public static TheoryData<int> Cases()
    {
        var data = new TheoryData<int>();
        foreach (var field in Mutation.Descriptor.Oneofs[0].Fields)
        {
            data.Add(field.FieldNumber);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryKindIsPackedAsAnyPackPacksIt(int fieldNumber)
    {
        var field = Mutation.Descriptor.FindFieldByNumber(fieldNumber);
        var message = field.MessageType.Parser.ParseFrom(ByteString.Empty);
        var mutation = new Mutation();
        field.Accessor.SetValue(mutation, message);

        var packed = TypedMutations.Pack(mutation, 0);

        Assert.Equal(Any.Pack(message), packed);
    }

    [Fact]
    public void AMutationWithFieldsKeepsItsBytes()
    {
        var item = new CartActor.Cart.Messages.AddItem { Sku = "sku-1", Name = "Item", Quantity = 2, UnitPrice = 1000, TaxRate = 2500 };

        var packed = TypedMutations.Pack(new Mutation { AddItem = item }, 0);

        Assert.Equal("type.googleapis.com/cart_messages.AddItem", packed.TypeUrl);
        Assert.Equal(item, packed.Unpack<CartActor.Cart.Messages.AddItem>());
    }

    [Fact]
    public void AnEmptyMutationIsRefusedNamingItsIndex()
    {
        var ex = Assert.Throws<RpcException>(() => TypedMutations.Pack(new Mutation(), 3));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("mutations[3] holds no mutation", ex.Status.Detail);
    }
}

using System.IO.Pipelines;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Node.Services.Minimal;
using CartActor.Packing;
using CartActor.Tests.Shared;
using Google.Protobuf;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Tests;

/// <summary>
/// The minimal endpoint writes an Apply's ApplyResult field by field (<see cref="ApplyReply"/>); a client reads the
/// bytes protobuf would have written. Each shape of result is compared with protobuf's own serialisation (the reply
/// frame Grpc.AspNetCore sends): state present or absent, empty and set errors, an empty type, a null message, an
/// echoed Any with unknown fields, non-ASCII text, and a reply larger than one pipe segment.
/// </summary>
public sealed class ApplyReplyTests
{
    public static TheoryData<string> Shapes() => new(ShapesByName.Keys);

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task WritesTheBytesProtobufWrites(string shape)
    {
        var result = ShapesByName[shape]();

        var written = await WriteAsync(writer => Assert.True(ApplyReply.TryWrite(writer, result)));
        var expected = await WriteAsync(writer => GrpcResponse.WriteMessage(writer, result));

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(written));
        Assert.Equal(result, ApplyResult.Parser.ParseFrom(written.AsSpan(GrpcWire.HeaderSize)));
    }

    [Fact]
    public async Task LeavesABatchLargerThanItsStackToProtobuf()
    {
        var result = new ApplyResult { State = Packed(new CartState { Id = 5, Version = 2 }) };
        for (var i = 0; i < 17; i++)
        {
            result.Mutations.Add(new MutationResult { Type = "AddItem", Message = Any.Pack(new AddItem { Sku = "s" + i }) });
        }

        var written = await WriteAsync(writer => Assert.False(ApplyReply.TryWrite(writer, result)));

        Assert.Empty(written);
    }

    private static readonly Dictionary<string, Func<ApplyResult>> ShapesByName = new()
    {
        ["served: two results, packed state"] = () => Result(
            Packed(State(2)),
            new MutationResult { Type = "AddItem", Message = Any.Pack(new AddItem { Sku = "sku-1", Name = "Item", Quantity = 1, UnitPrice = 1000, TaxRate = 2500 }) },
            new MutationResult { Type = "ChangeQuantity", Message = Any.Pack(new ChangeQuantity { ItemId = 1, Quantity = 1 }) }),
        ["refused mutation with an error, unknown type"] = () => Result(
            Packed(State(1)),
            new MutationResult { Type = "ChangeQuantity", Message = Any.Pack(new ChangeQuantity { ItemId = 9, Quantity = 1 }), Error = "ChangeQuantity: no item with id 9 in the cart" },
            new MutationResult { Type = "Nope", Message = new Any { TypeUrl = "type.googleapis.com/x.Nope" }, Error = "unknown mutation type 'type.googleapis.com/x.Nope'" }),
        ["empty error, empty type, no message"] = () => Result(
            Packed(State(1)),
            new MutationResult { Type = "", Error = "" },
            new MutationResult { Type = "AddItem" }),
        ["echoed Any with unknown fields"] = () => Result(
            Packed(State(3)),
            new MutationResult { Type = "AddItem", Message = Any.Parser.ParseFrom([.. Any.Pack(new AddItem { Sku = "u" }).ToByteArray(), 0x18, 0x07, 0x22, 0x01, 0x41]) }),
        ["non-ASCII text"] = () => Result(
            Packed(new CartState { Id = 8, Version = 1, Items = { new CartItem { Id = 1, Sku = "ärm-€", Name = "Tröja 😀", Quantity = 1 } } }),
            new MutationResult { Type = "AddItem", Message = Any.Pack(new AddItem { Sku = "ärm-€", Name = "Tröja 😀" }), Error = "fel: ‘citat’" }),
        ["no state"] = () => Result(null, new MutationResult { Type = "AddItem", Message = Any.Pack(new AddItem { Sku = "a" }) }),
        ["state Any with another type URL, empty value"] = () => Result(new Any { TypeUrl = "type.googleapis.com/other.Thing" }),
        ["large state (over one pipe segment)"] = () => Result(
            Packed(new CartState { Id = 9, Version = 7, Items = { Enumerable.Range(1, 200).Select(i => new CartItem { Id = (uint)i, Sku = "sku-" + i, Name = new string('n', 60), Quantity = i }) } }),
            new MutationResult { Type = "AddItem", Message = Any.Pack(new AddItem { Sku = "sku-200" }) }),
    };

    private static CartState State(ulong version) => new() { Id = 77, Version = version, Currency = "SEK", Items = { new CartItem { Id = 1, Sku = "sku-1", Name = "Item", Quantity = 1, UnitPrice = 1000, LineTotal = 1000, LineTax = 200, TaxRate = 2500 } }, TotalPrice = 1000, TotalTax = 200 };

    private static Any Packed(CartState state) => PackedState.Pack(state).Any;

    private static ApplyResult Result(Any? state, params MutationResult[] mutations)
    {
        var result = new ApplyResult { State = state };
        result.Mutations.Add(mutations);
        return result;
    }

    private static async Task<byte[]> WriteAsync(Action<PipeWriter> write)
    {
        var pipe = new Pipe();
        write(pipe.Writer);
        await pipe.Writer.CompleteAsync().AsTask().WithTimeout();
        using var copy = new MemoryStream();
        await pipe.Reader.CopyToAsync(copy).WithTimeout();
        return copy.ToArray();
    }
}

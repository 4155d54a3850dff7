using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using CartActor.ControlPlane;
using CartActor.Packing;
using Google.Protobuf;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// The ApplyResult reply of an Apply this node just ran (<see cref="CartAnswer{T}.IsBuiltHere"/>), written field by
/// field: the state from the packed bytes the cart encoded once for its version, each result's type and error as
/// strings, and each echoed mutation (the request's own Any, unknown fields and all) through protobuf. Every size is
/// computed once; protobuf's CalculateSize + WriteTo of the whole ApplyResult computed the state's size twice and each
/// echoed Any's three times (a nested message's length is recomputed at every level it is written under). The bytes
/// are protobuf's (fields in number order, proto3 defaults left out): the conformance suite compares them.
/// A result built elsewhere (a forward's reply, an idempotent replay parsed from the store) may carry unknown fields,
/// which only protobuf writes back: <see cref="GrpcResponse.WriteMessage"/> serves those.
/// </summary>
internal static class ApplyReply
{
    // Field 1 / 2 / 3, length-delimited (wire type 2).
    private const byte Field1 = 0x0a;
    private const byte Field2 = 0x12;
    private const byte Field3 = 0x1a;

    // The sizes of the echoed mutations are kept on the stack for the write; a larger batch goes through protobuf.
    private const int MaxStackMutations = 16;

    // Any.type_url of every packed state (field 1: tag, length, the URL's UTF-8), the same bytes in every reply.
    private static readonly byte[] StateTypeUrlField = TypeUrlField(PackedState.CartStateTypeUrl);

    /// <summary>Writes the reply frame; false (nothing written) for a batch larger than the stack sizes hold.</summary>
    public static bool TryWrite(PipeWriter writer, ApplyResult result)
    {
        var mutations = result.Mutations;
        if (mutations.Count > MaxStackMutations)
        {
            return false;
        }

        Span<int> messageSizes = stackalloc int[MaxStackMutations];
        var state = result.State;
        var stateSize = state is null ? 0 : AnySize(state);
        var size = state is null ? 0 : 1 + CodedOutputStream.ComputeLengthSize(stateSize) + stateSize;
        for (var i = 0; i < mutations.Count; i++)
        {
            var mutation = mutations[i];
            messageSizes[i] = mutation.Message?.CalculateSize() ?? 0;
            var entry = ResultSize(mutation, messageSizes[i]);
            size += 1 + CodedOutputStream.ComputeLengthSize(entry) + entry;
        }

        // The whole frame in one span (see GrpcResponse: each GetSpan/Advance takes the stream's output lock).
        var frame = writer.GetSpan(GrpcWire.HeaderSize + size);
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)size);
        var at = GrpcWire.HeaderSize;
        if (state is not null)
        {
            frame[at++] = Field1;
            at += CartReplies.WriteVarint(frame[at..], (uint)stateSize);
            at += WriteAny(frame[at..], state);
        }

        for (var i = 0; i < mutations.Count; i++)
        {
            var mutation = mutations[i];
            frame[at++] = Field2;
            at += CartReplies.WriteVarint(frame[at..], (uint)ResultSize(mutation, messageSizes[i]));
            if (mutation.Type.Length > 0)
            {
                at += CartReplies.WriteString(frame[at..], Field1, mutation.Type);
            }

            if (mutation.Message is { } message)
            {
                frame[at++] = Field2;
                at += CartReplies.WriteVarint(frame[at..], (uint)messageSizes[i]);
                message.WriteTo(frame.Slice(at, messageSizes[i]));
                at += messageSizes[i];
            }

            if (mutation.HasError)
            {
                at += CartReplies.WriteString(frame[at..], Field3, mutation.Error);
            }
        }

        writer.Advance(at);
        return true;
    }

    // MutationResult { string type = 1; Any message = 2; optional string error = 3; }
    private static int ResultSize(MutationResult mutation, int messageSize) =>
        (mutation.Type.Length > 0 ? 1 + CodedOutputStream.ComputeStringSize(mutation.Type) : 0)
        + (mutation.Message is null ? 0 : 1 + CodedOutputStream.ComputeLengthSize(messageSize) + messageSize)
        + (mutation.HasError ? 1 + CodedOutputStream.ComputeStringSize(mutation.Error) : 0);

    // Any { string type_url = 1; bytes value = 2; }, built by the packing (no unknown fields).
    private static int AnySize(Any any) =>
        TypeUrlSize(any.TypeUrl) + (any.Value.Length > 0 ? 1 + CodedOutputStream.ComputeLengthSize(any.Value.Length) + any.Value.Length : 0);

    private static int TypeUrlSize(string typeUrl) =>
        ReferenceEquals(typeUrl, PackedState.CartStateTypeUrl) ? StateTypeUrlField.Length
        : typeUrl.Length > 0 ? 1 + CodedOutputStream.ComputeStringSize(typeUrl) : 0;

    private static int WriteAny(Span<byte> span, Any any)
    {
        int at;
        if (ReferenceEquals(any.TypeUrl, PackedState.CartStateTypeUrl))
        {
            StateTypeUrlField.CopyTo(span);
            at = StateTypeUrlField.Length;
        }
        else
        {
            at = any.TypeUrl.Length > 0 ? CartReplies.WriteString(span, Field1, any.TypeUrl) : 0;
        }

        var value = any.Value.Span;
        if (value.Length > 0)
        {
            span[at++] = Field2;
            at += CartReplies.WriteVarint(span[at..], (uint)value.Length);
            value.CopyTo(span[at..]);
            at += value.Length;
        }

        return at;
    }

    private static byte[] TypeUrlField(string typeUrl)
    {
        var field = new byte[1 + CodedOutputStream.ComputeStringSize(typeUrl)];
        CartReplies.WriteString(field, Field1, typeUrl);
        return field;
    }
}

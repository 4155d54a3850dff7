using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using CartActor.ControlPlane;
using Google.Protobuf;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// The storefront's replies (cartactor.cart.v1) written straight from the packed state: a CartState is the bytes
/// the cart packed once per version (the Any's value), so GetCart copies them and Mutate wraps them, with no
/// CartState parsed and re-encoded as Grpc.AspNetCore's path does. The bytes are the same: protobuf's encoding of
/// a parsed message is its wire order, field by field (the conformance suite compares them).
/// </summary>
internal static class CartReplies
{
    // Field 1 / field 2, length-delimited (wire type 2).
    private const byte Field1 = 0x0a;
    private const byte Field2 = 0x12;

    // CartState.version (field 9, varint): the ETag.
    private const uint VersionTag = (9 << 3) | 0;

    /// <summary>A CartState reply: the packed state, length-prefixed.</summary>
    public static void WriteCartState(PipeWriter writer, ReadOnlySpan<byte> state)
    {
        // One GetSpan/Advance for the whole frame (see GrpcResponse: each takes the stream's output lock).
        var frame = GrpcResponse.FrameSpan(writer, GrpcWire.HeaderSize + state.Length, out var staged);
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)state.Length);
        state.CopyTo(frame[GrpcWire.HeaderSize..]);
        GrpcResponse.Commit(writer, GrpcWire.HeaderSize + state.Length, staged);
    }

    /// <summary>
    /// MutateReply { cart = state, results = one MutationOutcome { type, error? } per result from <paramref name="skip"/> on },
    /// as <see cref="Storefront.CartApiService.Mutate"/> builds it.
    /// </summary>
    public static void WriteMutateReply(PipeWriter writer, ReadOnlySpan<byte> state, ApplyResult result, int skip)
    {
        var mutations = result.Mutations;
        var size = 1 + CodedOutputStream.ComputeLengthSize(state.Length) + state.Length;
        for (var i = skip; i < mutations.Count; i++)
        {
            var outcome = OutcomeSize(mutations[i]);
            size += 1 + CodedOutputStream.ComputeLengthSize(outcome) + outcome;
        }

        // The whole frame in one span (see WriteCartState).
        var frame = GrpcResponse.FrameSpan(writer, GrpcWire.HeaderSize + size, out var staged);
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)size);
        var at = GrpcWire.HeaderSize;
        frame[at++] = Field1;
        at += WriteVarint(frame[at..], (uint)state.Length);
        state.CopyTo(frame[at..]);
        at += state.Length;
        for (var i = skip; i < mutations.Count; i++)
        {
            var mutation = mutations[i];
            frame[at++] = Field2;
            at += WriteVarint(frame[at..], (uint)OutcomeSize(mutation));
            if (mutation.Type.Length > 0)
            {
                at += WriteString(frame[at..], Field1, mutation.Type);
            }

            if (mutation.HasError)
            {
                at += WriteString(frame[at..], Field2, mutation.Error);
            }
        }

        GrpcResponse.Commit(writer, at, staged);
    }

    /// <summary>CartState.version read from the packed bytes (0 when absent, as proto3 reads it); no message is built.</summary>
    public static ulong VersionOf(ReadOnlySpan<byte> state)
    {
        var at = 0;
        while (at < state.Length)
        {
            var tag = ReadVarint(state, ref at);
            switch (tag & 7)
            {
                case 0:
                    var value = ReadVarint(state, ref at);
                    if (tag == VersionTag)
                    {
                        return value;
                    }

                    break;
                case 1:
                    at += 8;
                    break;
                case 2:
                    // Read before adding: `at += Read(ref at)` would add to the position before the length.
                    var length = (int)ReadVarint(state, ref at);
                    at += length;
                    break;
                case 5:
                    at += 4;
                    break;
                default:
                    return 0;
            }
        }

        return 0;
    }

    // MutationOutcome { string type = 1; optional string error = 2; }: an empty type is not written (proto3), a set error always is.
    private static int OutcomeSize(MutationResult mutation) =>
        (mutation.Type.Length > 0 ? 1 + CodedOutputStream.ComputeStringSize(mutation.Type) : 0)
        + (mutation.HasError ? 1 + CodedOutputStream.ComputeStringSize(mutation.Error) : 0);

    /// <summary>A string field: tag, UTF-8 length, UTF-8 bytes; returns the bytes written.</summary>
    internal static int WriteString(Span<byte> span, byte tag, string value)
    {
        span[0] = tag;
        var length = Encoding.UTF8.GetByteCount(value);
        var at = 1 + WriteVarint(span[1..], (uint)length);
        return at + Encoding.UTF8.GetBytes(value, span[at..]);
    }

    internal static int WriteVarint(Span<byte> span, uint value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            span[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[at++] = (byte)value;
        return at;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64 && at < span.Length; shift += 7)
        {
            var b = span[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        return value;
    }
}

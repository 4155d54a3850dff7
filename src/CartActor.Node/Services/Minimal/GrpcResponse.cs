using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Any = Google.Protobuf.WellKnownTypes.Any;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// Writes a unary gRPC response onto Kestrel's response directly, byte for byte as Grpc.AspNetCore writes it: its
/// headers, the length-prefixed reply frame, and the status as trailers (or, with no reply, in the headers of a
/// trailers-only response).
/// </summary>
internal static class GrpcResponse
{
    /// <summary>The response header Grpc.AspNetCore sends with every call: the gRPC content type (no grpc-encoding for identity).</summary>
    public static void Prepare(HttpResponse response) => response.ContentType = GrpcWire.ContentType;

    /// <summary>
    /// The status as trailers after a reply, or in the response headers of a trailers-only response (no reply
    /// written), with any trailers the refusal carries first, as Grpc.AspNetCore writes them.
    /// </summary>
    public static void WriteStatus(HttpContext http, Status status, Metadata? trailers)
    {
        var response = http.Response;
        var destination = response.HasStarted ? http.Features.GetRequiredFeature<IHttpResponseTrailersFeature>().Trailers : response.Headers;
        if (trailers is not null)
        {
            foreach (var entry in trailers)
            {
                destination.Append(entry.Key, entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value);
            }
        }

        var code = (int)status.StatusCode;
        destination[GrpcWire.StatusTrailer] = code == 0 ? GrpcWire.Ok : (uint)code < (uint)GrpcWire.StatusText.Length ? GrpcWire.StatusText[code] : code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        destination[GrpcWire.MessageTrailer] = string.IsNullOrEmpty(status.Detail) ? default : GrpcWire.PercentEncode(status.Detail);
    }

    // Each reply is written with one GetSpan and one Advance of its whole frame: every GetSpan/Advance on Kestrel's
    // HTTP/2 response pipe takes the stream's output lock, and protobuf writing to the pipe as an IBufferWriter asks
    // for a fresh span again and again (a profile at 64 streams showed those locks contended). A frame larger than
    // a pool block comes from the array pool (System.IO.Pipelines), as before.

    public static void WriteMessage(System.IO.Pipelines.PipeWriter writer, IMessage message)
    {
        var size = message.CalculateSize();
        var frame = FrameSpan(writer, GrpcWire.HeaderSize + size, out var staged);
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)size);
        message.WriteTo(frame.Slice(GrpcWire.HeaderSize, size));
        Commit(writer, GrpcWire.HeaderSize + size, staged);
    }

    /// <summary>
    /// Where a reply frame of <paramref name="frameBytes"/> is rendered: the pipe's own span, or for a frame of
    /// <see cref="ReplyBudget.TrackedReplyBytes"/> or more a rented staging array (<paramref name="staged"/>). A span
    /// that large from the pipe is a fresh array-pool array per reply (past the pool block size), rounded up to a
    /// power of two and held until the client takes the reply; staged, the frame goes into the pipe in pool blocks
    /// (<see cref="Commit"/>) and the array is returned at once.
    /// </summary>
    internal static Span<byte> FrameSpan(System.IO.Pipelines.PipeWriter writer, int frameBytes, out byte[]? staged)
    {
        if (frameBytes < ReplyBudget.TrackedReplyBytes)
        {
            staged = null;
            return writer.GetSpan(frameBytes);
        }

        staged = System.Buffers.ArrayPool<byte>.Shared.Rent(frameBytes);
        return staged;
    }

    /// <summary>Commits <paramref name="written"/> bytes of the frame <see cref="FrameSpan"/> gave out.</summary>
    internal static void Commit(System.IO.Pipelines.PipeWriter writer, int written, byte[]? staged)
    {
        if (staged is null)
        {
            writer.Advance(written);
            return;
        }

        System.Buffers.BuffersExtensions.Write(writer, staged.AsSpan(0, written));
        System.Buffers.ArrayPool<byte>.Shared.Return(staged);
    }

    /// <summary>GetReply { grain = state } written field by field: the packed state is copied once and no GetReply is built.</summary>
    public static void WriteGetReply(System.IO.Pipelines.PipeWriter writer, Any? state)
    {
        var stateSize = state?.CalculateSize() ?? 0;
        var size = state is null ? 0 : 1 + CodedOutputStream.ComputeLengthSize(stateSize) + stateSize;
        var frame = FrameSpan(writer, GrpcWire.HeaderSize + size, out var staged);
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)size);
        if (state is null)
        {
            Commit(writer, GrpcWire.HeaderSize, staged);
            return;
        }

        // Field 1, length-delimited (tag 0x0a), then the state's length as a varint.
        var written = GrpcWire.HeaderSize;
        frame[written++] = 0x0a;
        var length = (uint)stateSize;
        while (length >= 0x80)
        {
            frame[written++] = (byte)(length | 0x80);
            length >>= 7;
        }

        frame[written++] = (byte)length;
        state.WriteTo(frame.Slice(written, stateSize));
        Commit(writer, written + stateSize, staged);
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;
using Grpc.Core;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// Reads the one length-prefixed message of a unary request straight from Kestrel's request body pipe and parses it
/// from the pipe's own buffers (no copy). Refuses what Grpc.AspNetCore refuses, with the same status: a message over
/// the size limit, a body that ends early or carries more than one message, a compressed message without a usable
/// grpc-encoding, and bytes its type's parser rejects (INVALID_ARGUMENT naming the type, as
/// <see cref="Binding.StrictRequestMarshaller"/> does). The endpoint calls it only for identity-encoded requests.
/// </summary>
internal static class GrpcRequestReader
{
    /// <summary>The message, or (Message null) the status the call is answered with.</summary>
    public static async ValueTask<(T? Message, Status Refusal)> ReadAsync<T>(
        PipeReader reader,
        MessageParser<T> parser,
        string parseRefusalPrefix,
        int maxMessageSize,
        bool hasEncodingHeader,
        CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        T? message = null;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return (null, GrpcWire.MessageCancelled);
            }

            if (message is not null)
            {
                // Grpc.AspNetCore reads on to the end of the body: a unary request holds exactly one message.
                if (!buffer.IsEmpty)
                {
                    reader.AdvanceTo(buffer.End);
                    return (null, GrpcWire.AdditionalData);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    return (message, Status.DefaultSuccess);
                }

                continue;
            }

            var frame = Frame(buffer, maxMessageSize, hasEncodingHeader, out var payload, out var refusal);
            if (frame == FrameState.Refused)
            {
                reader.AdvanceTo(buffer.End);
                return (null, refusal);
            }

            if (frame == FrameState.Incomplete)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return (null, GrpcWire.IncompleteMessage);
                }

                continue;
            }

            var consumed = payload.End;
            if (!TryParse(parser, payload, parseRefusalPrefix, out message, out refusal))
            {
                reader.AdvanceTo(buffer.End);
                return (null, refusal);
            }

            if (buffer.Slice(consumed).Length > 0)
            {
                reader.AdvanceTo(buffer.End);
                return (null, GrpcWire.AdditionalData);
            }

            reader.AdvanceTo(consumed);
            if (result.IsCompleted)
            {
                return (message, Status.DefaultSuccess);
            }
        }
    }

    private enum FrameState
    {
        Incomplete,
        Complete,
        Refused,
    }

    private static FrameState Frame(in ReadOnlySequence<byte> buffer, int maxMessageSize, bool hasEncodingHeader, out ReadOnlySequence<byte> payload, out Status refusal)
    {
        payload = default;
        refusal = Status.DefaultSuccess;
        if (buffer.Length < GrpcWire.HeaderSize)
        {
            return FrameState.Incomplete;
        }

        Span<byte> header = stackalloc byte[GrpcWire.HeaderSize];
        buffer.Slice(0, GrpcWire.HeaderSize).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (header[0] > 1 || length > int.MaxValue)
        {
            refusal = GrpcWire.HandlerException;
            return FrameState.Refused;
        }

        if (length > (uint)maxMessageSize)
        {
            refusal = GrpcWire.ExceedsLimit;
            return FrameState.Refused;
        }

        if (buffer.Length < GrpcWire.HeaderSize + length)
        {
            return FrameState.Incomplete;
        }

        if (header[0] == 1)
        {
            // Only identity-encoded requests reach this endpoint (Grpc.AspNetCore decodes or refuses the others).
            refusal = hasEncodingHeader ? GrpcWire.IdentityEncoding : GrpcWire.NoEncoding;
            return FrameState.Refused;
        }

        payload = buffer.Slice(GrpcWire.HeaderSize, length);
        return FrameState.Complete;
    }

    private static bool TryParse<T>(MessageParser<T> parser, in ReadOnlySequence<byte> payload, string prefix, out T? message, out Status refusal)
        where T : class, IMessage<T>
    {
        try
        {
            message = parser.ParseFrom(payload);
            refusal = Status.DefaultSuccess;
            return true;
        }
        catch (Exception ex)
        {
            // A malformed request is the client's mistake and rare: the parser's exception is the only cost it adds.
            message = null;
            refusal = Binding.StrictRequestMarshaller.Refusal(prefix, ex);
            return false;
        }
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace CartActor.Node.Hosting;

/// <summary>
/// The connection cap of one endpoint (<c>Node:MaxConnections</c>, sized by <see cref="ConnectionLimit"/>), in
/// place of Kestrel's MaxConcurrentConnections. Kestrel closes a connection beyond its cap at once; a .NET gRPC
/// client that sees that close before it has opened its first stream reports INTERNAL ("An HTTP/2 connection
/// could not be established"), not UNAVAILABLE, so a client that retries UNAVAILABLE gives up on a node that
/// is merely full. On the gRPC port a refused connection is therefore answered in HTTP/2: the node waits
/// (bounded in time, bytes and number of such connections) for the client's first request, answers it
/// UNAVAILABLE naming the cap, sends GOAWAY and closes. Anything else (the HTTP port, a client that sends no
/// request in time, more refusals at once than <see cref="MaxAnswering"/>) is closed at once, as Kestrel did.
/// Runs after TLS, so it reads the plaintext HTTP/2 of either kind of gRPC port.
/// </summary>
internal sealed class ConnectionCap(int limit, bool answerGrpc)
{
    /// <summary>Refused connections answered at a time: the cap exists to protect file descriptors.</summary>
    private const int MaxAnswering = 32;

    /// <summary>What a refused client may send before its first HEADERS frame (preface, SETTINGS, WINDOW_UPDATE).</summary>
    private const int MaxRequestHeadBytes = 16 * 1024;

    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(1);

    private static readonly byte[] ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private int _open;
    private int _answering;

    public int Limit => limit;

    public ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        if (!TryEnter())
        {
            await RefuseAsync(connection).ConfigureAwait(false);
            return;
        }

        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    };

    private bool TryEnter()
    {
        var open = Volatile.Read(ref _open);
        while (open < limit)
        {
            var seen = Interlocked.CompareExchange(ref _open, open + 1, open);
            if (seen == open)
            {
                return true;
            }

            open = seen;
        }

        return false;
    }

    private async Task RefuseAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        if (answerGrpc && Interlocked.Increment(ref _answering) <= MaxAnswering)
        {
            try
            {
                using var timeout = new CancellationTokenSource(AnswerTimeout);
                var stream = await FirstRequestStreamAsync(input, timeout.Token).ConfigureAwait(false);
                if (stream > 0)
                {
                    await output.WriteAsync(Refusal(stream), timeout.Token).ConfigureAwait(false);
                    // Read on until the client closes (it does on GOAWAY): closing with its bytes unread would
                    // reset the connection, and a reset can overtake the answer.
                    await DrainAsync(input, timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                // Too slow, or gone: closed below.
            }
            finally
            {
                Interlocked.Decrement(ref _answering);
            }
        }
        else if (answerGrpc)
        {
            Interlocked.Decrement(ref _answering);
        }

        await input.CompleteAsync().ConfigureAwait(false);
        await output.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>The stream id of the client's first HEADERS frame, or 0 when what arrives is not HTTP/2 with prior knowledge.</summary>
    private static async Task<int> FirstRequestStreamAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var stream = FindFirstHeaders(buffer, out var invalid);
            if (stream > 0 || invalid || result.IsCompleted || buffer.Length > MaxRequestHeadBytes)
            {
                input.AdvanceTo(buffer.End);
                return stream;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Scans the preface and whole frames; <paramref name="invalid"/> when the bytes cannot be an HTTP/2 client's.</summary>
    internal static int FindFirstHeaders(ReadOnlySequence<byte> buffer, out bool invalid)
    {
        invalid = false;
        var reader = new SequenceReader<byte>(buffer);
        Span<byte> preface = stackalloc byte[24];
        if (!reader.TryCopyTo(preface))
        {
            invalid = !ClientPreface.AsSpan(0, (int)buffer.Length).SequenceEqual(buffer.ToArray());
            return 0;
        }

        if (!preface.SequenceEqual(ClientPreface))
        {
            invalid = true;
            return 0;
        }

        reader.Advance(preface.Length);
        Span<byte> header = stackalloc byte[9];
        while (reader.TryCopyTo(header))
        {
            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            if (header[3] == 0x1)
            {
                return BinaryPrimitives.ReadInt32BigEndian(header[5..]) & 0x7FFF_FFFF;
            }

            if (reader.Remaining < header.Length + length)
            {
                break;
            }

            reader.Advance(header.Length + length);
        }

        return 0;
    }

    private static async Task DrainAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    /// <summary>
    /// SETTINGS (the server preface), a trailers-only gRPC answer on the client's stream (HTTP 200,
    /// grpc-status 14 UNAVAILABLE with a message naming the setting), then GOAWAY with that stream as the last.
    /// </summary>
    private byte[] Refusal(int stream)
    {
        var message = string.Create(CultureInfo.InvariantCulture, $"connection limit reached: this port accepts at most {limit} connections (Node:MaxConnections); retry later or elsewhere");
        var block = new List<byte> { 0x88 }; // :status 200, from the static table
        Literal(block, "content-type", "application/grpc");
        Literal(block, "grpc-status", "14");
        Literal(block, "grpc-message", message);

        var frames = new List<byte>();
        Frame(frames, type: 0x4, flags: 0x0, stream: 0, []);
        Frame(frames, type: 0x1, flags: 0x5 /* END_STREAM | END_HEADERS */, stream, block);
        var goAway = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(goAway, stream);
        Frame(frames, type: 0x7, flags: 0x0, stream: 0, goAway);
        return [.. frames];
    }

    /// <summary>An HPACK literal header field without indexing, new name (RFC 7541 6.2.2), without Huffman coding.</summary>
    private static void Literal(List<byte> block, string name, string value)
    {
        block.Add(0x00);
        String(block, name);
        String(block, value);
    }

    private static void String(List<byte> block, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        // Length with a 7-bit prefix (RFC 7541 5.1).
        var length = bytes.Length;
        if (length < 127)
        {
            block.Add((byte)length);
        }
        else
        {
            block.Add(127);
            for (length -= 127; length >= 128; length >>= 7)
            {
                block.Add((byte)((length & 0x7F) | 0x80));
            }

            block.Add((byte)length);
        }

        block.AddRange(bytes);
    }

    private static void Frame(List<byte> frames, byte type, byte flags, int stream, IReadOnlyCollection<byte> payload)
    {
        frames.Add((byte)(payload.Count >> 16));
        frames.Add((byte)(payload.Count >> 8));
        frames.Add((byte)payload.Count);
        frames.Add(type);
        frames.Add(flags);
        frames.Add((byte)(stream >> 24));
        frames.Add((byte)(stream >> 16));
        frames.Add((byte)(stream >> 8));
        frames.Add((byte)stream);
        frames.AddRange(payload);
    }
}

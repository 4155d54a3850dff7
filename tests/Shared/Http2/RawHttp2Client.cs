using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace CartActor.Tests.Shared.Http2;

/// <summary>
/// A bare HTTP/2 cleartext client on a socket, for what a well-behaved client library never does: open a fresh
/// connection and send hundreds of gRPC unary calls (HEADERS with HPACK literals without indexing, then one DATA
/// frame with the gRPC message) before reading a single byte, not even the server's SETTINGS; then read every
/// frame (HEADERS, DATA, RST_STREAM, GOAWAY, SETTINGS, PING) until each stream has an outcome, the connection
/// closes, or the timeout passes. One use per instance.
/// </summary>
public sealed class RawHttp2Client : IAsyncDisposable
{
    public const int RefusedStream = 0x7;

    private const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7, WindowUpdate = 0x8, Continuation = 0x9;
    private const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;

    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly HpackDecoder _decoder = new();
    private readonly string _authority;

    private RawHttp2Client(Socket socket, int port)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _authority = "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
    }

    public static async Task<RawHttp2Client> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WithTimeout();
        return new RawHttp2Client(socket, port);
    }

    /// <summary>
    /// Sends the preface, this client's SETTINGS (a large stream window) and a connection WINDOW_UPDATE (so flow
    /// control never holds an answer back), then one unary call per message on streams 1, 3, 5...; reads nothing
    /// until all of it is written. Returns the stream ids in the order of <paramref name="messages"/>.
    /// </summary>
    public Task<int[]> SendUnaryBurstAsync(string path, IReadOnlyList<byte[]> messages) =>
        SendUnaryBurstAsync(path, messages, [], initialWindowSize: 1 << 30);

    /// <summary>
    /// As <see cref="SendUnaryBurstAsync(string, IReadOnlyList{byte[]})"/>, with <paramref name="headers"/> added to every
    /// call as given (one header field each, so a name may repeat) and this client's SETTINGS_INITIAL_WINDOW_SIZE set to
    /// <paramref name="initialWindowSize"/>: 0 is a client that never lets the server send a byte of any reply.
    /// </summary>
    public async Task<int[]> SendUnaryBurstAsync(string path, IReadOnlyList<byte[]> messages, IReadOnlyList<(string Name, string Value)> headers, int initialWindowSize)
    {
        var output = new List<byte>(Preface);
        // SETTINGS: INITIAL_WINDOW_SIZE (0x4).
        WriteFrame(output, Settings, 0, 0, [0x00, 0x04, (byte)(initialWindowSize >> 24), (byte)(initialWindowSize >> 16), (byte)(initialWindowSize >> 8), (byte)initialWindowSize]);
        WriteFrame(output, WindowUpdate, 0, 0, [0x40, 0x00, 0x00, 0x00]);
        var ids = new int[messages.Count];
        for (var n = 0; n < messages.Count; n++)
        {
            var id = ids[n] = 2 * n + 1;
            var block = new List<byte>();
            HpackDecoder.WriteLiteralWithoutIndexing(block, ":method", "POST");
            HpackDecoder.WriteLiteralWithoutIndexing(block, ":scheme", "http");
            HpackDecoder.WriteLiteralWithoutIndexing(block, ":path", path);
            HpackDecoder.WriteLiteralWithoutIndexing(block, ":authority", _authority);
            HpackDecoder.WriteLiteralWithoutIndexing(block, "content-type", "application/grpc");
            HpackDecoder.WriteLiteralWithoutIndexing(block, "te", "trailers");
            foreach (var (name, value) in headers)
            {
                HpackDecoder.WriteLiteralWithoutIndexing(block, name, value);
            }

            WriteFrame(output, Headers, EndHeaders, id, [.. block]);
            // The gRPC length-prefixed message: not compressed, 4-byte big-endian length.
            var grpc = new byte[5 + messages[n].Length];
            BinaryPrimitives.WriteInt32BigEndian(grpc.AsSpan(1), messages[n].Length);
            messages[n].CopyTo(grpc, 5);
            WriteFrame(output, Data, EndStream, id, grpc);
        }

        await _stream.WriteAsync(output.ToArray()).AsTask().WithTimeout();
        await _stream.FlushAsync().WithTimeout();
        return ids;
    }

    /// <summary>
    /// Reads frames until every stream in <paramref name="streamIds"/> has an outcome (trailers with grpc-status, or
    /// RST_STREAM), the server closes the connection, or <paramref name="timeout"/> passes.
    /// </summary>
    public async Task<BurstOutcome> ReadOutcomesAsync(IReadOnlyCollection<int> streamIds, TimeSpan timeout)
    {
        var outcome = new BurstOutcome();
        var pending = new HashSet<int>(streamIds);
        using var deadline = new CancellationTokenSource(timeout);
        var header = new byte[9];
        var headerBlocks = new Dictionary<int, List<byte>>();
        try
        {
            while (pending.Count > 0)
            {
                if (!await ReadExactlyAsync(header, deadline.Token))
                {
                    outcome.ConnectionClosed = true;
                    break;
                }

                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = header[3];
                var flags = header[4];
                var id = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF;
                var payload = new byte[length];
                if (!await ReadExactlyAsync(payload, deadline.Token))
                {
                    outcome.ConnectionClosed = true;
                    break;
                }

                switch (type)
                {
                    case Settings when (flags & Ack) == 0:
                        await WriteAsync(Settings, Ack, 0, []);
                        break;
                    case Ping when (flags & Ack) == 0:
                        await WriteAsync(Ping, Ack, 0, payload);
                        break;
                    case GoAway:
                        outcome.GoAwayLastStreamId = BinaryPrimitives.ReadInt32BigEndian(payload) & 0x7FFFFFFF;
                        outcome.GoAwayErrorCode = BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4));
                        break;
                    case RstStream:
                        outcome.Streams.GetOrAdd(id).ResetCode = BinaryPrimitives.ReadInt32BigEndian(payload);
                        pending.Remove(id);
                        break;
                    case Data:
                        outcome.Streams.GetOrAdd(id).Data.AddRange(Unpad(payload, flags));
                        break;
                    case Headers or Continuation:
                        var block = headerBlocks.TryGetValue(id, out var started) ? started : headerBlocks[id] = [];
                        block.AddRange(type == Headers ? HeaderBlock(payload, flags) : payload);
                        var stream = outcome.Streams.GetOrAdd(id);
                        if (type == Headers && (flags & EndStream) != 0)
                        {
                            stream.EndStreamOnHeaders = true;
                        }

                        if ((flags & EndHeaders) != 0)
                        {
                            headerBlocks.Remove(id);
                            foreach (var (name, value) in _decoder.Decode(block.ToArray()))
                            {
                                stream.Headers.Add((name, value));
                                if (name == "grpc-status")
                                {
                                    stream.GrpcStatus = int.Parse(value, CultureInfo.InvariantCulture);
                                }
                                else if (name == "grpc-message")
                                {
                                    stream.GrpcMessage = Uri.UnescapeDataString(value);
                                }
                            }

                            if (stream.EndStreamOnHeaders)
                            {
                                pending.Remove(id);
                            }
                        }

                        break;
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            outcome.TimedOut = true;
        }
        catch (IOException)
        {
            outcome.ConnectionClosed = true;
        }

        return outcome;
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken cancellation)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _stream.ReadAsync(buffer.AsMemory(read), cancellation);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    private async Task WriteAsync(byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new List<byte>();
        WriteFrame(frame, type, flags, streamId, payload);
        try
        {
            await _stream.WriteAsync(frame.ToArray()).AsTask().WithTimeout();
        }
        catch (IOException)
        {
            // The server may already have closed the connection; the reader sees it.
        }
    }

    private static void WriteFrame(List<byte> output, byte type, byte flags, int streamId, byte[] payload)
    {
        output.Add((byte)(payload.Length >> 16));
        output.Add((byte)(payload.Length >> 8));
        output.Add((byte)payload.Length);
        output.Add(type);
        output.Add(flags);
        output.Add((byte)(streamId >> 24));
        output.Add((byte)(streamId >> 16));
        output.Add((byte)(streamId >> 8));
        output.Add((byte)streamId);
        output.AddRange(payload);
    }

    private static ArraySegment<byte> Unpad(byte[] payload, byte flags) =>
        (flags & Padded) == 0 ? payload : new ArraySegment<byte>(payload, 1, payload.Length - 1 - payload[0]);

    private static ArraySegment<byte> HeaderBlock(byte[] payload, byte flags)
    {
        var start = 0;
        var end = payload.Length;
        if ((flags & Padded) != 0)
        {
            end -= payload[0];
            start = 1;
        }

        if ((flags & Priority) != 0)
        {
            start += 5;
        }

        return new ArraySegment<byte>(payload, start, end - start);
    }
}

/// <summary>What a burst got back: per stream, and for the connection.</summary>
public sealed class BurstOutcome
{
    public Dictionary<int, StreamOutcome> Streams { get; } = [];

    public int? GoAwayLastStreamId { get; set; }

    public int? GoAwayErrorCode { get; set; }

    public bool ConnectionClosed { get; set; }

    public bool TimedOut { get; set; }

    public string Describe() =>
        $"{Streams.Values.Count(s => s.GrpcStatus is not null)} answered, {Streams.Values.Count(s => s.ResetCode is not null)} reset " +
        $"(codes {string.Join(",", Streams.Values.Where(s => s.ResetCode is not null).GroupBy(s => s.ResetCode).Select(g => $"{g.Key}x{g.Count()}"))}), " +
        $"GOAWAY {(GoAwayErrorCode is null ? "none" : $"error {GoAwayErrorCode} last stream {GoAwayLastStreamId}")}, closed={ConnectionClosed}, timed out={TimedOut}";
}

/// <summary>One stream's answer: its headers and trailers, gRPC status, DATA bytes, or its RST_STREAM code.</summary>
public sealed class StreamOutcome
{
    public List<(string Name, string Value)> Headers { get; } = [];

    public List<byte> Data { get; } = [];

    public int? GrpcStatus { get; set; }

    public string? GrpcMessage { get; set; }

    public int? ResetCode { get; set; }

    public bool EndStreamOnHeaders { get; set; }
}

internal static class StreamOutcomes
{
    public static StreamOutcome GetOrAdd(this Dictionary<int, StreamOutcome> streams, int id) =>
        streams.TryGetValue(id, out var stream) ? stream : streams[id] = new StreamOutcome();
}

using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CartActor.Tests.Shared;

namespace CartActor.Node.Tests.Conformance;

/// <summary>
/// gRPC at the HTTP/2 frame level, without a gRPC client: any body, any headers, over h2c (prior knowledge), and the
/// whole answer written down as one text (HTTP status, gRPC headers, where the status came: headers or trailers, the
/// reply bytes in hex), so two endpoints' answers compare with one Assert.Equal and a readable diff.
/// </summary>
internal static class RawGrpc
{
    public const string Service = "/control_plane_messages.ControlPlane/";

    /// <summary>A length-prefixed message: flag, big-endian length, payload.</summary>
    public static byte[] Frame(byte[] message, byte flag = 0, int? declaredLength = null)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)(declaredLength ?? message.Length));
        message.CopyTo(frame, 5);
        return frame;
    }

    public static HttpClient NewClient() =>
        new(new SocketsHttpHandler { EnableMultipleHttp2Connections = true }) { Timeout = TestTimeouts.Default };

    /// <summary>A POST to ControlPlane's <paramref name="method"/> ("Apply"), or to a full path ("/cartactor.cart.v1.CartService/GetCart").</summary>
    public static HttpRequestMessage Request(int port, string method, HttpContent content, IEnumerable<(string Name, string Value)>? headers = null, Version? version = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}{(method.StartsWith('/') ? method : Service + method)}")
        {
            Version = version ?? HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    public static ByteArrayContent Body(byte[] body, string contentType = "application/grpc")
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    /// <summary>Sends and writes the answer down (Date and other transport headers left out).</summary>
    public static async Task<string> ExchangeAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).WithTimeout();
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).WithTimeout();
            return Describe(response, body);
        }
        catch (HttpRequestException ex) when (ex.InnerException is HttpProtocolException)
        {
            // The server answered, then reset the stream (as at a deadline). A trailers-only answer (the status in the
            // headers) has no body, whether or not the reset overtook the end of the stream: written down as empty.
            return Describe(response, response.Headers.Contains("grpc-status") ? [] : null);
        }
    }

    public static string Describe(HttpResponseMessage response, byte[]? body)
    {
        var text = new StringBuilder();
        text.Append("HTTP ").Append((int)response.StatusCode).Append(' ').Append(response.Version).Append('\n');
        Append(text, "header", response.Content.Headers, response.Headers);
        if (body is null)
        {
            text.Append("body: stream reset by the server after its headers\n");
            return text.ToString();
        }

        text.Append("body ").Append(body.Length).Append(" B: ").Append(Convert.ToHexString(body)).Append('\n');
        Append(text, "trailer", response.TrailingHeaders);
        return text.ToString();
    }

    private static void Append(StringBuilder text, string where, params HttpHeaders[] collections)
    {
        foreach (var (name, values) in collections.SelectMany(c => c).OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
        {
            if (name.Equals("Date", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            text.Append(where).Append(' ').Append(name.ToLowerInvariant()).Append(": ").Append(string.Join(", ", values)).Append('\n');
        }
    }

    /// <summary>The grpc-status an answer carried (in headers or trailers), or null.</summary>
    public static int? StatusOf(string described)
    {
        foreach (var line in described.Split('\n'))
        {
            var at = line.IndexOf(" grpc-status: ", StringComparison.Ordinal);
            if (at >= 0)
            {
                return int.Parse(line[(at + " grpc-status: ".Length)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>A request body that sends nothing and never ends (until the exchange is cancelled or reset).</summary>
    public sealed class StalledBody : HttpContent
    {
        public StalledBody(string contentType = "application/grpc") => Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.FlushAsync(cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

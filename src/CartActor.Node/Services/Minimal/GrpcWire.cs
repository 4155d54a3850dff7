using System.Globalization;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Primitives;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// The gRPC-over-HTTP/2 protocol rules the minimal endpoint keeps, each as Grpc.AspNetCore (2.85) keeps it, so that
/// a client cannot tell the two apart: header names, the grpc-timeout format, the percent-encoding of grpc-message,
/// and the fixed statuses of a request body that is not one well-formed message. Statuses are pre-built: a refused
/// call allocates none.
/// </summary>
internal static class GrpcWire
{
    public const string ContentType = "application/grpc";
    public const string ContentTypeProto = "application/grpc+proto";
    public const string EncodingHeader = "grpc-encoding";
    public const string TimeoutHeader = "grpc-timeout";
    public const string StatusTrailer = "grpc-status";
    public const string MessageTrailer = "grpc-message";
    public const string Identity = "identity";

    /// <summary>Length-prefixed message header: compressed flag (1 byte) and big-endian length (4 bytes).</summary>
    public const int HeaderSize = 5;

    // Grpc.AspNetCore's own texts (Internal/PipeExtensions.cs): a client sees the same status from either endpoint.
    public static readonly Status IncompleteMessage = new(StatusCode.Internal, "Incomplete message.");
    public static readonly Status AdditionalData = new(StatusCode.Internal, "Additional data after the message received.");
    public static readonly Status MessageCancelled = new(StatusCode.Internal, "Incoming message cancelled.");
    public static readonly Status ExceedsLimit = new(StatusCode.ResourceExhausted, "Received message exceeds the maximum configured message size.");
    public static readonly Status NoEncoding = new(StatusCode.Internal, "Request did not include grpc-encoding value with compressed message.");
    public static readonly Status IdentityEncoding = new(StatusCode.Internal, "Request sent 'identity' grpc-encoding value with compressed message.");

    /// <summary>What Grpc.AspNetCore answers an exception outside its own checks (a compressed flag other than 0 or 1, a length past 2^31): UNKNOWN without detail.</summary>
    public static readonly Status HandlerException = new(StatusCode.Unknown, "Exception was thrown by handler.");

    public static readonly Status DeadlineExceeded = new(StatusCode.DeadlineExceeded, "Deadline Exceeded");

    /// <summary>"0".."16": the grpc-status values, built once.</summary>
    public static readonly string[] StatusText = Enumerable.Range(0, 17).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    public static readonly StringValues Ok = new("0");

    /// <summary>
    /// The grpc-timeout header as Grpc.AspNetCore reads it: one value, an integer and a unit (H M S m u n); anything
    /// else, or zero, means no deadline. Capped where a timer can still run it (about 24 days).
    /// </summary>
    public static TimeSpan ReadTimeout(IHeaderDictionary headers)
    {
        if (!headers.TryGetValue(TimeoutHeader, out var values) || values.Count != 1 || values[0] is not { Length: >= 2 } text
            || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return TimeSpan.Zero;
        }

        var timeout = text[^1] switch
        {
            'H' => TimeSpan.FromHours(value),
            'M' => TimeSpan.FromMinutes(value),
            'S' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMilliseconds(value),
            'u' => TimeSpan.FromTicks(value * 10L),
            'n' => TimeSpan.FromTicks(value / 100L),
            _ => TimeSpan.Zero,
        };
        return timeout > MaxTimeout ? MaxTimeout : timeout;
    }

    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    /// <summary>
    /// grpc-message is UTF-8 then percent-encoded (PROTOCOL-HTTP2.md): bytes outside 0x20..0x7E and '%' itself become
    /// %XX. Returns the text itself when nothing needs encoding (every message this node writes).
    /// </summary>
    public static string PercentEncode(string text)
    {
        var i = 0;
        while (i < text.Length && text[i] is >= ' ' and <= '~' and not '%')
        {
            i++;
        }

        if (i == text.Length)
        {
            return text;
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        var encoded = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                encoded.Append((char)b);
            }
            else
            {
                encoded.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return encoded.ToString();
    }
}

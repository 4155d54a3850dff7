using System.Globalization;
using Grpc.Core;

namespace CartActor.Node.Services.Storefront;

/// <summary>
/// The cart version as an HTTP entity tag: every reply that carries a cart sets `ETag: "version"`; a request's
/// `If-Match: "version"` is its expected_version (the field wins when both are sent; `*` asks for nothing).
/// </summary>
internal static class ETags
{
    public static void Set(ServerCallContext context, ulong version)
    {
        var response = context.GetHttpContext().Response;
        if (!response.HasStarted)
        {
            response.Headers.ETag = Format(version);
        }
    }

    public static string Format(ulong version) => "\"" + version.ToString(CultureInfo.InvariantCulture) + "\"";

    public static ulong? IfMatch(ServerCallContext context)
    {
        var header = context.GetHttpContext().Request.Headers.IfMatch;
        if (header.Count == 0)
        {
            return null;
        }

        var text = header.ToString().Trim();
        if (text == "*")
        {
            return null;
        }

        var tag = text.StartsWith("W/", StringComparison.Ordinal) ? text[2..] : text;
        tag = tag.Trim('"');
        return ulong.TryParse(tag, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? version
            : throw new RpcException(new Status(StatusCode.InvalidArgument, $"If-Match '{Truncate(text)}' is not a cart version (an ETag such as \"7\")"));
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "...";
}

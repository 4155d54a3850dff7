using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace CartActor.Node.Services.Storefront;

/// <summary>
/// The cart version as an HTTP entity tag: every reply that carries a cart sets `ETag: "version"`; a request's
/// `If-Match: "version"` is its expected_version (the field wins when both are sent; `*` asks for nothing).
/// HTTP's conditional-request rules (RFC 9110 13.1) apply to JSON/HTTP requests only: a failed If-Match is
/// 412 Precondition Failed (gRPC keeps ABORTED, which transcoding would turn into 409), and a GET whose
/// If-None-Match names the current version is 304 Not Modified with no body.
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

    /// <summary>
    /// The call failed on a version mismatch: a JSON/HTTP request that sent If-Match answers 412 instead of the
    /// 409 transcoding gives ABORTED. Transcoding sets the status from its own table just before it writes the
    /// error body, so the status is changed as the response starts.
    /// </summary>
    public static void VersionMismatch(ServerCallContext context)
    {
        var http = context.GetHttpContext();
        if (!IsJsonHttp(http.Request) || http.Request.Headers.IfMatch.Count == 0)
        {
            return;
        }

        http.Response.OnStarting(static state =>
        {
            var response = (HttpResponse)state;
            if (response.StatusCode == StatusCodes.Status409Conflict)
            {
                response.StatusCode = StatusCodes.Status412PreconditionFailed;
            }

            return Task.CompletedTask;
        }, http.Response);
    }

    /// <summary>
    /// A JSON GET whose If-None-Match names <paramref name="version"/> (or is `*`): the reply becomes 304 with the
    /// ETag and no body (transcoding writes the body to a null stream; Kestrel refuses a body on a 304).
    /// </summary>
    public static void NotModifiedIfCurrent(ServerCallContext context, ulong version)
    {
        var http = context.GetHttpContext();
        var request = http.Request;
        if (request.Headers.IfNoneMatch.Count == 0 || !HttpMethods.IsGet(request.Method) || !IsJsonHttp(request)
            || !EntityTagHeaderValue.TryParseList(request.Headers.IfNoneMatch, out var tags))
        {
            return;
        }

        var current = new EntityTagHeaderValue(Format(version));
        foreach (var tag in tags)
        {
            // If-None-Match uses the weak comparison (RFC 9110 13.1.2).
            if (tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: false))
            {
                http.Response.Body = Stream.Null;
                http.Response.OnStarting(static state =>
                {
                    var response = (HttpResponse)state;
                    if (response.StatusCode == StatusCodes.Status200OK)
                    {
                        response.StatusCode = StatusCodes.Status304NotModified;
                        response.ContentType = null;
                    }

                    return Task.CompletedTask;
                }, http.Response);
                return;
            }
        }
    }

    /// <summary>gRPC and gRPC-Web requests carry an application/grpc* content type; transcoded JSON/HTTP ones do not.</summary>
    private static bool IsJsonHttp(HttpRequest request) =>
        request.ContentType is not { } type || !type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "...";
}

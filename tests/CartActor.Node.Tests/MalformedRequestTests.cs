using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using CartActor.Tests.Shared;
using Grpc.Core;

namespace CartActor.Node.Tests;

/// <summary>
/// Every malformed request is INVALID_ARGUMENT naming the request type that failed to parse, over
/// Grpc.Net.Client and over raw HTTP/2 gRPC frames: never UNKNOWN, never INTERNAL, never a stack trace.
/// </summary>
[Collection(SharedNodeCollection.Name)]
public sealed class MalformedRequestTests(NodeFixture fixture)
{
    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(static b => b, static b => b);

    private RunningNode Node => fixture.Node;

    public static TheoryData<string, string, string> Cases => MalformedRequests.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task MalformedRequestOverGrpcClientIsInvalidArgumentNamingTheType(string service, string method, string kind)
    {
        var bytes = MalformedRequests.Bytes(service, method, kind);

        var status = await CallAsync(service, method, bytes);

        AssertRefused(status, MalformedRequests.Rpc(service, method).RequestType);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task MalformedRequestInRawHttp2FramesIsInvalidArgumentNamingTheType(string service, string method, string kind)
    {
        var bytes = MalformedRequests.Bytes(service, method, kind);
        using var http = new HttpClient(new SocketsHttpHandler()) { Timeout = TestTimeouts.Default };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{Node.GrpcPort}/{service}/{method}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(Frame(bytes)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");

        using var response = await http.SendAsync(request).WithTimeout();
        await response.Content.ReadAsByteArrayAsync().WithTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var code = Header(response, "grpc-status");
        var message = Uri.UnescapeDataString(Header(response, "grpc-message") ?? string.Empty);
        AssertRefused(new Status((StatusCode)int.Parse(code!, System.Globalization.CultureInfo.InvariantCulture), message),
            MalformedRequests.Rpc(service, method).RequestType);
    }

    [Fact]
    public async Task RandomAndBitFlippedRequestsNeverGetUnknownOrInternal()
    {
        var random = new Random(11);
        var seen = new Dictionary<StatusCode, int>();
        foreach (var rpc in MalformedRequests.Rpcs)
        {
            var inputs = new List<byte[]>();
            for (var i = 0; i < 40; i++)
            {
                var bytes = new byte[random.Next(0, 96)];
                random.NextBytes(bytes);
                inputs.Add(bytes);
            }

            for (var bit = 0; bit < rpc.Valid.Length * 8; bit++)
            {
                var flipped = (byte[])rpc.Valid.Clone();
                flipped[bit / 8] ^= (byte)(1 << (bit % 8));
                inputs.Add(flipped);
            }

            foreach (var input in inputs)
            {
                var status = await CallAsync(rpc.Service, rpc.Method, input);
                seen[status.StatusCode] = seen.GetValueOrDefault(status.StatusCode) + 1;
                Assert.True(status.StatusCode is not (StatusCode.Unknown or StatusCode.Internal),
                    $"{rpc.Method} answered {status.StatusCode} '{status.Detail}' to {Convert.ToHexString(input)}");
                Assert.DoesNotContain("   at ", status.Detail, StringComparison.Ordinal);
            }
        }

        // The fuzz reached the parser's refusals, not only handlers' own checks.
        Assert.True(seen.GetValueOrDefault(StatusCode.InvalidArgument) > 100, string.Join(", ", seen));
    }

    private async Task<Status> CallAsync(string service, string method, byte[] bytes)
    {
        var call = Node.Channel.CreateCallInvoker().AsyncUnaryCall(
            new Method<byte[], byte[]>(MethodType.Unary, service, method, Raw, Raw),
            host: null,
            new CallOptions(deadline: GrpcTestExtensions.Deadline()),
            bytes);
        try
        {
            await call.ResponseAsync.WithTimeout();
            return call.GetStatus();
        }
        catch (RpcException ex)
        {
            return ex.Status;
        }
    }

    private static void AssertRefused(Status status, string requestType)
    {
        Assert.True(status.StatusCode == StatusCode.InvalidArgument, $"expected InvalidArgument, got {status.StatusCode}: {status.Detail}");
        Assert.StartsWith(requestType + " could not be parsed: ", status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", status.Detail, StringComparison.Ordinal);
    }

    private static byte[] Frame(byte[] message)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var trailer) ? trailer.First()
        : response.Headers.TryGetValues(name, out var header) ? header.First()
        : null;
}

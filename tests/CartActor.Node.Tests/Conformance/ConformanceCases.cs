using System.IO.Compression;
using System.Net;
using System.Text;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Http2;
using Google.Protobuf;
using Grpc.Core;

namespace CartActor.Node.Tests.Conformance;

/// <summary>One case: what is sent (by raw HTTP/2 or by Grpc.Net.Client) and the gRPC status it must end with.</summary>
internal sealed record ConformanceCase(string Name, StatusCode Expected, Func<RunningNode, ulong, Task<string>> Run);

/// <summary>
/// THE table of the conformance suite: every case runs against a node serving Apply/Get with the minimal endpoint
/// and against one serving them through Grpc.AspNetCore (<see cref="ConformancePair"/>), and both answers must be
/// the same text: HTTP status, gRPC headers, status and message (and whether they came as headers or trailers),
/// any other trailers, and the reply bytes. Each case gets its own cart id, the same on both nodes.
/// </summary>
internal static class ConformanceCases
{
    internal static readonly HttpClient Http = RawGrpc.NewClient();

    private static readonly (string, string)[] NoHeaders = [];

    /// <summary>ControlPlane's cases, then the storefront's (<see cref="StorefrontConformanceCases"/>).</summary>
    public static readonly ConformanceCase[] All = [.. ControlPlaneCases(), .. StorefrontConformanceCases.All];

    private static ConformanceCase[] ControlPlaneCases() =>
    [
        // ---- served ----
        new("raw: Apply", StatusCode.OK, (node, id) => Raw(node, "Apply", Apply(id))),
        new("raw: Apply then Get", StatusCode.OK, async (node, id) =>
        {
            await Raw(node, "Apply", Apply(id));
            return await Raw(node, "Get", Get(id));
        }),
        new("raw: Get of a cart never written", StatusCode.OK, (node, id) => Raw(node, "Get", Get(id))),
        new("raw: content-type application/grpc+proto", StatusCode.OK, (node, id) => Raw(node, "Apply", Apply(id), contentType: "application/grpc+proto")),
        new("raw: grpc-timeout 10S, served in time", StatusCode.OK, (node, id) => Raw(node, "Apply", Apply(id), [("grpc-timeout", "10S")])),
        new("raw: grpc-timeout malformed is ignored", StatusCode.OK, (node, id) => Raw(node, "Get", Get(id), [("grpc-timeout", "soon")])),
        new("raw: grpc-encoding identity, plain message", StatusCode.OK, (node, id) => Raw(node, "Apply", Apply(id), [("grpc-encoding", "identity")])),
        new("raw: gzip-compressed message (grpc-encoding gzip)", StatusCode.OK, (node, id) =>
            Raw(node, "Apply", RawGrpc.Frame(Gzip(ApplyMessage(id)), flag: 1), [("grpc-encoding", "gzip")])),
        new("raw: a peer's forwarded marks with the key, cart served here", StatusCode.OK, (node, id) =>
            Raw(node, "Apply", Apply(id), [("x-cart-cluster-key", ConformancePair.ClusterKey), ("x-cart-hop", "1"), ("x-cart-sender", "127.0.0.1:1")])),

        // ---- idempotency ----
        new("raw: idempotency replay returns the first answer", StatusCode.OK, async (node, id) =>
        {
            var first = await Raw(node, "Apply", Apply(id), [("idempotency-key", "k-replay")]);
            var second = await Raw(node, "Apply", Apply(id), [("idempotency-key", "k-replay")]);
            Assert.Equal(first, second);
            return second;
        }),
        new("raw: idempotency key reused for another request, message percent-encoded", StatusCode.InvalidArgument, async (node, id) =>
        {
            await Raw(node, "Apply", Apply(id), [("idempotency-key", "50%-off")]);
            var reused = await Raw(node, "Apply", Apply(id, "sku-other"), [("idempotency-key", "50%-off")]);
            Assert.Contains("50%25-off", reused, StringComparison.Ordinal);
            return reused;
        }),

        new("frames: idempotency-key sent twice (two header fields)", StatusCode.InvalidArgument, async (node, id) =>
        {
            var twice = await Frames(node, RawGrpc.Service + "Apply", ApplyMessage(id), [("idempotency-key", "k-a"), ("idempotency-key", "k-b")]);
            Assert.Contains("idempotency-key must be sent at most once", twice, StringComparison.Ordinal);
            // Nothing was applied: the cart is still empty.
            return twice + await Raw(node, "Get", Get(id));
        }),

        // ---- refused by the node ----
        new("raw: Apply with refused mutations, an unknown type and an Any with unknown fields (echoed in the results)", StatusCode.OK, (node, id) =>
            Raw(node, "Apply", RawGrpc.Frame(MixedApplyMessage(id)))),
        new("raw: cart id 0", StatusCode.InvalidArgument, (node, _) => Raw(node, "Apply", Apply(0))),
        new("raw: Get of cart id 0", StatusCode.InvalidArgument, (node, _) => Raw(node, "Get", Get(0))),
        new("raw: Apply without mutations", StatusCode.InvalidArgument, (node, id) => Raw(node, "Apply", RawGrpc.Frame(new ApplyRequest { Id = id }.ToByteArray()))),
        new("raw: peer mark without the cluster key", StatusCode.Unauthenticated, (node, id) => Raw(node, "Apply", Apply(id), [("x-cart-hop", "1")])),
        new("raw: wrong cluster key", StatusCode.PermissionDenied, (node, id) => Raw(node, "Get", Get(id), [("x-cart-cluster-key", "not-the-key-0123456789")])),

        // ---- malformed bodies ----
        new("raw: truncated frame (length says 50, 10 sent)", StatusCode.Internal, (node, _) => Raw(node, "Apply", RawGrpc.Frame(new byte[10], declaredLength: 50))),
        new("raw: body shorter than the frame header", StatusCode.Internal, (node, _) => Raw(node, "Get", [0, 0, 0])),
        new("raw: empty body", StatusCode.Internal, (node, _) => Raw(node, "Get", [])),
        new("raw: two messages in a unary request", StatusCode.Internal, (node, id) => Raw(node, "Get", [.. Get(id), .. Get(id)])),
        new("raw: garbage protobuf", StatusCode.InvalidArgument, (node, _) => Raw(node, "Apply", RawGrpc.Frame([0x0a, 0x05, 0x01]))),
        new("raw: Get garbage protobuf", StatusCode.InvalidArgument, (node, _) => Raw(node, "Get", RawGrpc.Frame([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))),
        new("raw: invalid UTF-8 in Any.type_url", StatusCode.InvalidArgument, (node, _) => Raw(node, "Apply", RawGrpc.Frame([0x08, 0x01, 0x12, 0x04, 0x0a, 0x02, 0xc3, 0x28]))),
        new("raw: message over the size limit", StatusCode.ResourceExhausted, (node, _) => Raw(node, "Apply", RawGrpc.Frame(new byte[ConformancePair.MaxMessageSize + 1]))),
        new("raw: compressed flag without grpc-encoding", StatusCode.Internal, (node, id) => Raw(node, "Get", RawGrpc.Frame(new GetRequest { Id = id }.ToByteArray(), flag: 1))),
        new("raw: compressed flag with grpc-encoding identity", StatusCode.Internal, (node, id) =>
            Raw(node, "Get", RawGrpc.Frame(new GetRequest { Id = id }.ToByteArray(), flag: 1), [("grpc-encoding", "identity")])),
        new("raw: compressed with an unsupported grpc-encoding", StatusCode.Unimplemented, (node, id) =>
            Raw(node, "Get", RawGrpc.Frame(new GetRequest { Id = id }.ToByteArray(), flag: 1), [("grpc-encoding", "br")])),
        new("raw: compressed-flag byte neither 0 nor 1", StatusCode.Unknown, (node, id) => Raw(node, "Get", RawGrpc.Frame(new GetRequest { Id = id }.ToByteArray(), flag: 2))),

        // ---- not gRPC ----
        new("raw: content-type application/json", StatusCode.Internal, (node, id) => Raw(node, "Apply", Apply(id), contentType: "application/json")),
        new("raw: HTTP/1.1 request", StatusCode.Internal, (node, id) =>
            RawGrpc.ExchangeAsync(Http, Rebase(RawGrpc.Request(node.HttpPort, "Get", RawGrpc.Body(Get(id)), version: HttpVersion.Version11)))),

        // ---- deadline and cancellation ----
        new("raw: grpc-timeout passes while the body has not arrived", StatusCode.DeadlineExceeded, (node, _) =>
            RawGrpc.ExchangeAsync(Http, RawGrpc.Request(node.GrpcPort, "Apply", new RawGrpc.StalledBody(), [("grpc-timeout", "300m")]))),
        new("raw: client cancels mid-request; the node serves on and counts nothing", StatusCode.OK, async (node, id) =>
        {
            var before = await ApplyAndGetLinesAsync(node);
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                Http.SendAsync(RawGrpc.Request(node.GrpcPort, "Apply", new RawGrpc.StalledBody()), cancel.Token));
            var next = await Raw(node, "Get", Get(id));
            var after = await ApplyAndGetLinesAsync(node);
            return next + "metrics before: " + before + "\nmetrics after: " + after;
        }),

        // ---- through Grpc.Net.Client ----
        new("client: Apply", StatusCode.OK, (node, id) => Client(() => node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-c"))))),
        new("client: Get", StatusCode.OK, async (node, id) =>
        {
            await node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-c"))).WithTimeout();
            return await Client(() => node.Client.GetAsync(new GetRequest { Id = id }));
        }),
        new("client: Apply with a deadline", StatusCode.OK, (node, id) =>
            Client(() => node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-c")), deadline: GrpcTestExtensions.Deadline()))),
        new("client: cart id 0", StatusCode.InvalidArgument, (node, _) => Client(() => node.Client.GetAsync(new GetRequest()))),
        new("client: idempotency replay", StatusCode.OK, async (node, id) =>
        {
            var key = new Metadata { { "idempotency-key", "k-client" } };
            var first = await Client(() => node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-c")), key));
            var second = await Client(() => node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-c")), key));
            Assert.Equal(first, second);
            return second;
        }),
        new("client: idempotency key reused", StatusCode.InvalidArgument, async (node, id) =>
        {
            var key = new Metadata { { "idempotency-key", "k-client-reuse" } };
            await Client(() => node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-c")), key));
            return await Client(() => node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-d")), key));
        }),
        new("client: peer marks without the key", StatusCode.Unauthenticated, (node, id) =>
            Client(() => node.Client.GetAsync(new GetRequest { Id = id }, new Metadata { { "x-cart-sender", "127.0.0.1:1" } }))),
    ];

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in All)
        {
            data.Add(c.Name);
        }

        return data;
    }

    public static ConformanceCase Named(string name) => All.Single(c => c.Name == name);

    public static ulong CartIdOf(string name) => 1_000_000UL + (ulong)Array.FindIndex(All, c => c.Name == name);

    private static byte[] ApplyMessage(ulong id, string sku = "sku-c") => Carts.Apply(id, Carts.Item(sku), new CartActor.Cart.Messages.ChangeQuantity { ItemId = 1, Quantity = 3 }).ToByteArray();

    private static byte[] Apply(ulong id, string sku = "sku-c") => RawGrpc.Frame(ApplyMessage(id, sku));

    /// <summary>An AddItem whose Any carries unknown fields (3 and 4), a ChangeQuantity of a missing line, an unknown type, a non-ASCII sku.</summary>
    private static byte[] MixedApplyMessage(ulong id)
    {
        var request = Carts.Apply(id, Carts.Item("sku-ö€"), new CartActor.Cart.Messages.ChangeQuantity { ItemId = 99, Quantity = 2 });
        request.Messages.Insert(0, Google.Protobuf.WellKnownTypes.Any.Parser.ParseFrom([.. Google.Protobuf.WellKnownTypes.Any.Pack(Carts.Item("sku-u")).ToByteArray(), 0x18, 0x07, 0x22, 0x01, 0x41]));
        request.Messages.Add(new Google.Protobuf.WellKnownTypes.Any { TypeUrl = "type.googleapis.com/cart_messages.NoSuchThing", Value = Google.Protobuf.ByteString.CopyFrom(1, 2, 3) });
        return request.ToByteArray();
    }

    private static byte[] Get(ulong id) => RawGrpc.Frame(new GetRequest { Id = id }.ToByteArray());

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    internal static Task<string> Raw(RunningNode node, string method, byte[] body, (string, string)[]? headers = null, string contentType = "application/grpc") =>
        RawGrpc.ExchangeAsync(Http, RawGrpc.Request(node.GrpcPort, method, RawGrpc.Body(body, contentType), headers ?? NoHeaders));

    /// <summary>
    /// One unary call written frame by frame (<see cref="RawHttp2Client"/>): each header field goes as given, so a name
    /// may repeat, which HttpClient would join into one field. The answer written down as <see cref="RawGrpc"/> does.
    /// </summary>
    internal static async Task<string> Frames(RunningNode node, string path, byte[] message, (string Name, string Value)[] headers)
    {
        await using var client = await RawHttp2Client.ConnectAsync(node.GrpcPort);
        var ids = await client.SendUnaryBurstAsync(path, [message], headers, initialWindowSize: 1 << 20);
        var outcome = await client.ReadOutcomesAsync(ids, TestTimeouts.Default);
        var stream = outcome.Streams[ids[0]];
        var text = new System.Text.StringBuilder();
        foreach (var (name, value) in stream.Headers.Where(h => h.Name != "date").OrderBy(h => h.Name, StringComparer.Ordinal))
        {
            text.Append("header ").Append(name).Append(": ").Append(value).Append('\n');
        }

        text.Append("body ").Append(stream.Data.Count).Append(" B: ").Append(Convert.ToHexString([.. stream.Data])).Append('\n');
        text.Append("reset ").Append(stream.ResetCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none").Append('\n');
        return text.ToString();
    }

    private static HttpRequestMessage Rebase(HttpRequestMessage request) => request;

    private static async Task<string> ApplyAndGetLinesAsync(RunningNode node)
    {
        var metrics = await node.GetMetricsAsync();
        return string.Join(" | ", metrics.Split('\n').Where(l => l.StartsWith("cartactor_requests_total{", StringComparison.Ordinal)));
    }

    /// <summary>A Grpc.Net.Client call written down: the reply bytes, or the status, message and trailers.</summary>
    internal static async Task<string> Client<T>(Func<AsyncUnaryCall<T>> call)
        where T : IMessage
    {
        try
        {
            using var pending = call();
            var reply = await pending.ResponseAsync.WithTimeout();
            var headers = await pending.ResponseHeadersAsync.WithTimeout();
            return "status OK\nheaders " + Text(headers) + "\nreply " + Convert.ToHexString(reply.ToByteArray()) + "\ntrailers " + Text(pending.GetTrailers()) + "\n";
        }
        catch (RpcException ex)
        {
            return $"status {ex.StatusCode}\nmessage {ex.Status.Detail}\ntrailers {Text(ex.Trailers)}\n";
        }
    }

    private static string Text(Metadata metadata) =>
        string.Join("; ", metadata.Where(e => e.Key != "date").Select(e => e.Key + "=" + (e.IsBinary ? Convert.ToHexString(e.ValueBytes) : e.Value)));
}

using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Health.V1;
using Empty = CartActor.ControlPlane.Empty;

namespace CartActor.Node.Tests;

/// <summary>
/// The table of malformed requests: for every RPC of the node (the 8 ControlPlane methods and health Check),
/// each class of bytes that its request parser must reject, with the request type the refusal must name.
/// </summary>
internal static class MalformedRequests
{
    public const string ControlPlaneService = "control_plane_messages.ControlPlane";
    public const string HealthService = "grpc.health.v1.Health";

    /// <summary>(service, method, request type, a valid request, bytes of a string field holding invalid UTF-8 or null).</summary>
    public static readonly (string Service, string Method, MessageParser Parser, string RequestType, byte[] Valid, byte[]? InvalidUtf8)[] Rpcs =
    [
        (ControlPlaneService, "Ping", Empty.Parser, nameof(Empty), [], null),
        (ControlPlaneService, "Negotiate", NegotiateRequest.Parser, nameof(NegotiateRequest),
            new NegotiateRequest { KnownHosts = { "peer-a:1337" } }.ToByteArray(), [0x0a, 0x02, 0xff, 0xfe]),
        (ControlPlaneService, "GetLocalActorIds", Empty.Parser, nameof(Empty), [], null),
        (ControlPlaneService, "AnnounceOwnership", OwnershipAnnounce.Parser, nameof(OwnershipAnnounce),
            new OwnershipAnnounce { Host = "peer-a:1337", Ids = { 5 } }.ToByteArray(), [0x0a, 0x03, 0x61, 0xc3, 0x28]),
        // The valid Apply ends inside Any.type_url, so flipping its last bit breaks the envelope, not just a payload.
        (ControlPlaneService, "Apply", ApplyRequest.Parser, nameof(ApplyRequest),
            new ApplyRequest { Id = 1, Messages = { new Any { TypeUrl = "type.googleapis.com/cart_messages.ClearCart" } } }.ToByteArray(),
            [0x08, 0x01, 0x12, 0x04, 0x0a, 0x02, 0xc3, 0x28]),
        (ControlPlaneService, "AnnounceExpiry", ExpiryAnnounce.Parser, nameof(ExpiryAnnounce),
            new ExpiryAnnounce { Host = "peer-a:1337", Ids = { 5 } }.ToByteArray(), [0x0a, 0x01, 0x80]),
        (ControlPlaneService, "Closing", ClosingNotice.Parser, nameof(ClosingNotice),
            new ClosingNotice { Host = "peer-a:1337" }.ToByteArray(), [0x0a, 0x04, 0xed, 0xa0, 0x80, 0x61]),
        (ControlPlaneService, "Get", GetRequest.Parser, nameof(GetRequest), new GetRequest { Id = 5 }.ToByteArray(), null),
        (HealthService, "Check", HealthCheckRequest.Parser, nameof(HealthCheckRequest),
            new HealthCheckRequest { Service = "x" }.ToByteArray(), [0x0a, 0x01, 0xfe]),
    ];

    /// <summary>Every (rpc, class) pair the table covers, as theory data.</summary>
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var rpc in Rpcs)
        {
            foreach (var kind in Kinds(rpc))
            {
                data.Add(rpc.Service, rpc.Method, kind);
            }
        }

        return data;
    }

    public static (string Service, string Method, MessageParser Parser, string RequestType, byte[] Valid, byte[]? InvalidUtf8) Rpc(string service, string method) =>
        Rpcs.Single(r => r.Service == service && r.Method == method);

    public static byte[] Bytes(string service, string method, string kind)
    {
        var rpc = Rpc(service, method);
        var bytes = kind switch
        {
            "random" => RandomRejected(rpc.Parser, rpc.Method.GetHashCode(StringComparison.Ordinal)),
            "truncated-field" => [0x0a, 0x05, 0x01],
            "truncated-message" => rpc.Valid[..^1],
            "bit-flipped" => [.. rpc.Valid[..^1], (byte)(rpc.Valid[^1] ^ 0x80)],
            "invalid-utf8" => rpc.InvalidUtf8!,
            "varint-11-bytes" => [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            "nesting-10000" => [.. Enumerable.Repeat((byte)0x0b, 10_000), .. Enumerable.Repeat((byte)0x0c, 10_000)],
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };

        // The table is only as good as its bytes: each must be one the type's own parser rejects.
        Assert.ThrowsAny<InvalidProtocolBufferException>(() => rpc.Parser.ParseFrom(bytes));
        return bytes;
    }

    private static IEnumerable<string> Kinds((string Service, string Method, MessageParser Parser, string RequestType, byte[] Valid, byte[]? InvalidUtf8) rpc)
    {
        yield return "random";
        yield return "truncated-field";
        yield return "varint-11-bytes";
        yield return "nesting-10000";
        if (rpc.Valid.Length > 0)
        {
            yield return "truncated-message";
            yield return "bit-flipped";
        }

        // Empty and GetRequest have no string field: invalid UTF-8 in an unknown field is not an error.
        if (rpc.InvalidUtf8 is not null)
        {
            yield return "invalid-utf8";
        }
    }

    /// <summary>Seeded random bytes that the parser rejects (most random buffers are; the seed keeps the run repeatable).</summary>
    private static byte[] RandomRejected(MessageParser parser, int seed)
    {
        var random = new Random(seed);
        while (true)
        {
            var bytes = new byte[random.Next(8, 64)];
            random.NextBytes(bytes);
            try
            {
                parser.ParseFrom(bytes);
            }
            catch (InvalidProtocolBufferException)
            {
                return bytes;
            }
        }
    }
}

using System.Text.RegularExpressions;
using CartActor.ControlPlane;
using CartActor.Node.Membership;
using CartActor.Ownership;
using CartActor.Tests.Shared;
using Google.Protobuf;
using Grpc.Core;

namespace CartActor.Node.Tests.Conformance;

/// <summary>
/// The conformance suite's cluster cases: two 2-node clusters alike but for Node:MinimalEndpoint, each call made on
/// the first node for a cart the second node serves (the same cart id in both clusters). A client's call is
/// forwarded once and answered by the owner; a call already carrying a peer's forwarded marks is refused with the
/// entry node's ring id (UNAVAILABLE + x-cart-ring), never forwarded twice. Ring ids and ports differ between the
/// clusters, so they are written down as placeholders before the answers are compared.
/// </summary>
[Trait("Category", "Conformance")]
public sealed class ForwardingConformanceTests : IAsyncLifetime
{
    private static readonly HttpClient Http = RawGrpc.NewClient();

    private (RunningNode Entry, RunningNode Owner) _minimal;
    private (RunningNode Entry, RunningNode Owner) _stock;

    public async Task InitializeAsync()
    {
        _minimal = await StartClusterAsync(minimal: true);
        _stock = await StartClusterAsync(minimal: false);
    }

    public async Task DisposeAsync()
    {
        foreach (var node in new[] { _minimal.Entry, _minimal.Owner, _stock.Entry, _stock.Owner })
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }
    }

    private static readonly string[] CaseNames = ["client: Apply forwarded", "client: Get forwarded", "raw: Apply forwarded by a peer to a non-owner"];

    public static TheoryData<string> Cases() => new(CaseNames);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BothEndpointsGiveTheSameAnswerInACluster(string name)
    {
        var id = CartServedBySecondInBoth(name);
        var (expected, run) = Case(name);

        var stock = Normalize(await run(_stock.Entry, id), _stock);
        var minimal = Normalize(await run(_minimal.Entry, id), _minimal);

        Assert.Equal(stock, minimal);
        Assert.Contains(expected == StatusCode.OK ? "status OK" : $"grpc-status: {(int)expected}", stock, StringComparison.Ordinal);
    }

    private static (StatusCode Expected, Func<RunningNode, ulong, Task<string>> Run) Case(string name) => name switch
    {
        "client: Apply forwarded" => (StatusCode.OK, (node, id) => Client(node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-f")), deadline: GrpcTestExtensions.Deadline()))),
        "client: Get forwarded" => (StatusCode.OK, async (node, id) =>
        {
            await node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-f"))).WithTimeout();
            return await Client(node.Client.GetAsync(new GetRequest { Id = id }));
        }),
        "raw: Apply forwarded by a peer to a non-owner" => (StatusCode.Unavailable, (node, id) => RawGrpc.ExchangeAsync(Http, RawGrpc.Request(
            node.GrpcPort,
            "Apply",
            RawGrpc.Body(RawGrpc.Frame(Carts.Apply(id, Carts.Item("sku-f")).ToByteArray())),
            [("x-cart-cluster-key", ConformancePair.ClusterKey), ("x-cart-hop", "1"), ("x-cart-sender", "127.0.0.1:1")]))),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static async Task<string> Client<T>(AsyncUnaryCall<T> call)
        where T : IMessage
    {
        try
        {
            using (call)
            {
                var reply = await call.ResponseAsync.WithTimeout();
                return "status OK\nreply " + Convert.ToHexString(reply.ToByteArray()) + "\n";
            }
        }
        catch (RpcException ex)
        {
            return $"status {ex.StatusCode}\nmessage {ex.Status.Detail}\n";
        }
    }

    /// <summary>A cart id (one per case) that the second node serves in both clusters' rings.</summary>
    private ulong CartServedBySecondInBoth(string name)
    {
        var start = 5_000_000UL + (ulong)Array.IndexOf(CaseNames, name) * 1_000UL;
        for (var id = start; ; id++)
        {
            if (IsRemote(_minimal.Entry, id) && IsRemote(_stock.Entry, id))
            {
                return id;
            }
        }
    }

    private static bool IsRemote(RunningNode entry, ulong id) => entry.Get<ClusterView>().Map.Lookup(id).Kind == OwnerKind.Remote;

    /// <summary>What differs between two clusters by construction: ring ids and the members' ports.</summary>
    private static string Normalize(string answer, (RunningNode Entry, RunningNode Owner) cluster) =>
        Regex.Replace(answer, "[0-9a-f]{16}", "<ring-id>")
            .Replace(cluster.Entry.AdvertisedHost, "<entry>", StringComparison.Ordinal)
            .Replace(cluster.Owner.AdvertisedHost, "<owner>", StringComparison.Ordinal);

    private static async Task<(RunningNode Entry, RunningNode Owner)> StartClusterAsync(bool minimal)
    {
        var entry = await ConformancePair.StartNodeAsync(minimal, TwoNodes.FastPings);
        try
        {
            var owner = await ConformancePair.StartNodeAsync(minimal, [.. TwoNodes.FastPings, "--seeds", entry.AdvertisedHost]);
            await TwoNodes.WaitForPairAsync(entry, owner, TestTimeouts.Default);
            return (entry, owner);
        }
        catch
        {
            await entry.DisposeAsync();
            throw;
        }
    }
}

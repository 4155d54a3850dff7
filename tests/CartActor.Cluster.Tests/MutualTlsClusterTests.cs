using System.Globalization;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Tls;
using Grpc.Net.Client;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;

namespace CartActor.Cluster.Tests;

/// <summary>
/// Three node processes, as an operator starts them, with TLS and mutual TLS (certificates the test creates):
/// they form one cluster over https, and a client without a certificate writes carts through one node and reads
/// every one of them back through another (calls forwarded to the owners over mutual TLS).
/// </summary>
[Trait("Category", "Cluster")]
public sealed class MutualTlsClusterTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task ThreeMutualTlsProcessesFormOneClusterAndForward()
    {
        using var ca = TestCertificates.CreateCa("cluster");
        var ports = Enumerable.Range(0, 3).Select(_ => (Grpc: NodeProcess.FreePort(), Http: NodeProcess.FreePort())).ToArray();
        var seeds = string.Join(",", ports.Select(p => $"127.0.0.1:{p.Grpc}"));
        var nodes = new List<NodeProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var leaf = ca.Issue($"node-{i}");
                nodes.Add(NodeProcess.Launch(ports[i].Grpc, ports[i].Http,
                    "--store", "memory", "--seeds", seeds,
                    "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile, "--tls-client-ca", ca.CaFile,
                    "--Cluster:PingInterval", "200ms", "--Cluster:NegotiateInterval", "1s"));
            }

            foreach (var node in nodes)
            {
                await node.WaitReadyAsync(TimeSpan.FromSeconds(30));
            }

            await Eventually.TrueAsync(
                () => nodes.All(n => AliveMembers(n).GetAwaiter().GetResult() == 3),
                TimeSpan.FromSeconds(30),
                () => string.Join(" / ", nodes.Select(n => $"{n.AdvertisedHost}: {AliveMembers(n).GetAwaiter().GetResult()} alive")));

            using var first = Channel(nodes[0], ca);
            using var third = Channel(nodes[2], ca);
            var writer = new ControlPlaneClient(first);
            var reader = new ControlPlaneClient(third);
            var ids = Enumerable.Range(0, 30).Select(i => (ulong)Random.Shared.NextInt64(1L << 20, 1L << 40)).Distinct().ToArray();
            foreach (var id in ids)
            {
                var request = new ApplyRequest { Id = id };
                request.Messages.Add(TestCluster.Add("sku-mtls"));
                await writer.ApplyAsync(request, deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync.WithTimeout();
            }

            foreach (var id in ids)
            {
                var state = TestCluster.State(await reader.GetAsync(new GetRequest { Id = id }, deadline: DateTime.UtcNow.AddSeconds(20)).ResponseAsync.WithTimeout());
                Assert.Single(state.Items, item => item.Sku == "sku-mtls");
            }
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private static GrpcChannel Channel(NodeProcess node, TestCertificates ca) =>
        GrpcChannel.ForAddress($"https://127.0.0.1:{node.GrpcPort}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { SslOptions = ca.ClientOptions() },
        });

    /// <summary>The node's own count of alive members, from its /metrics on the plaintext HTTP port.</summary>
    private static async Task<int> AliveMembers(NodeProcess node)
    {
        try
        {
            var text = await Http.GetStringAsync(new Uri($"http://127.0.0.1:{node.HttpPort}/metrics")).WithTimeout();
            var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("cartactor_members{state=\"alive\"}", StringComparison.Ordinal));
            return line is null ? 0 : (int)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }
}

using CartActor.ControlPlane;
using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using CartActor.Ownership;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Tls;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;
using Empty = CartActor.ControlPlane.Empty;

namespace CartActor.Node.Tests;

/// <summary>
/// TLS on the gRPC port (--tls-cert, --tls-key) and mutual TLS between nodes (--tls-client-ca), with
/// certificates the test creates: a TLS node serves clients over https and refuses cleartext; two mTLS nodes
/// form a cluster and forward; a client without a certificate keeps Apply and Get but not the peer-only calls;
/// a certificate from another CA is refused at the handshake; bad TLS settings stop start-up naming the flag.
/// </summary>
public sealed class TlsTests : IDisposable
{
    private readonly TestCertificates _cluster = TestCertificates.CreateCa("cluster");
    private readonly TestCertificates _other = TestCertificates.CreateCa("other");
    private readonly List<GrpcChannel> _channels = [];

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        _cluster.Dispose();
        _other.Dispose();
    }

    [Fact]
    public async Task ATlsNodeServesApplyAndGetOverHttpsAndRefusesCleartext()
    {
        var leaf = _cluster.Issue("node-a");
        await using var node = await RunningNode.StartAsync(["--store", "memory", "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile]);
        var client = Https(node, _cluster);
        var id = Carts.NewId();

        var applied = await client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-tls", 2)), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        var got = await client.GetAsync(new GetRequest { Id = id }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();

        Assert.Single(Carts.State(applied).Items, i => i.Sku == "sku-tls" && i.Quantity == 2);
        Assert.Single(Carts.State(got).Items, i => i.Sku == "sku-tls" && i.Quantity == 2);
        // A cleartext HTTP/2 client gets no answer from the TLS port; the cart is unchanged.
        var ex = await Assert.ThrowsAsync<RpcException>(() => node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-plain")), deadline: DateTime.UtcNow.AddSeconds(10)).WithTimeout());
        Assert.Contains(ex.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        var after = await client.GetAsync(new GetRequest { Id = id }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.DoesNotContain(Carts.State(after).Items, i => i.Sku == "sku-plain");
        // Health and metrics stay on the plaintext HTTP port.
        Assert.Equal("ok", await node.Http.GetStringAsync("/healthz").WithTimeout());
    }

    [Fact]
    public async Task TheDashboardsCartInspectorReachesATlsNodesOwnGrpcPort()
    {
        var leaf = _cluster.Issue("node-a");
        await using var node = await RunningNode.StartAsync(["--store", "memory", "--dashboard", "true", "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile, "--tls-client-ca", _cluster.CaFile]);
        var id = Carts.NewId();
        await Https(node, _cluster).ApplyAsync(Carts.Apply(id, Carts.Item("sku-seen")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();

        using var found = System.Text.Json.JsonDocument.Parse(await node.Http.GetStringAsync($"/dashboard/api/carts/{id}").WithTimeout());

        Assert.Equal("sku-seen", found.RootElement.GetProperty("state").GetProperty("items")[0].GetProperty("sku").GetString());
    }

    [Fact]
    public async Task TwoMutualTlsNodesFormAClusterAndForwardWhileClientsWithoutACertificateKeepApplyButNotPeerCalls()
    {
        var a = _cluster.Issue("node-a");
        var b = _cluster.Issue("node-b");
        var (first, second) = await TwoNodes.StartAsync(
            ["--tls-cert", a.CertFile, "--tls-key", a.KeyFile, "--tls-client-ca", _cluster.CaFile],
            ["--tls-cert", b.CertFile, "--tls-key", b.KeyFile, "--tls-client-ca", _cluster.CaFile]);
        await using var _ = first;
        await using var __ = second;
        await TwoNodes.WaitForPairAsync(first, second, TimeSpan.FromSeconds(20));

        // A storefront client: TLS, no client certificate. A cart the second node owns, asked of the first, is forwarded.
        var client = Https(first, _cluster);
        var id = IdOwnedBy(second);
        var applied = await client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-forwarded")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Single(Carts.State(applied).Items, i => i.Sku == "sku-forwarded");
        var onOwner = await Https(second, _cluster).GetAsync(new GetRequest { Id = id }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Single(Carts.State(onOwner).Items, i => i.Sku == "sku-forwarded");

        // Without a certificate (and no key) the peer-only calls are refused; with one from the cluster CA they are served.
        var refused = await GrpcTestExtensions.AssertStatusAsync(StatusCode.Unauthenticated, client.GetLocalActorIdsAsync(new Empty(), deadline: GrpcTestExtensions.Deadline()));
        Assert.Contains("client certificate from the cluster CA", refused.Status.Detail, StringComparison.Ordinal);
        await GrpcTestExtensions.AssertStatusAsync(StatusCode.Unauthenticated, client.NegotiateAsync(new NegotiateRequest { KnownHosts = { "127.0.0.1:9" } }, deadline: GrpcTestExtensions.Deadline()));
        var peer = Https(second, _cluster, _cluster.Issue("operator").Certificate);
        var ids = await peer.GetLocalActorIdsAsync(new Empty(), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Contains(id, ids.Ids);
        Assert.True(TwoNodes.IsPair(first, second) && TwoNodes.IsPair(second, first), $"{TwoNodes.Members(first)} / {TwoNodes.Members(second)}");
    }

    [Fact]
    public async Task ACertificateFromAnotherCaIsRefusedAtTheHandshake()
    {
        var leaf = _cluster.Issue("node-a");
        await using var node = await RunningNode.StartAsync(["--store", "memory", "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile, "--tls-client-ca", _cluster.CaFile]);
        var stranger = Https(node, _cluster, _other.Issue("stranger").Certificate);
        var id = Carts.NewId();

        var ex = await Assert.ThrowsAsync<RpcException>(() => stranger.ApplyAsync(Carts.Apply(id, Carts.Item("sku-stranger")), deadline: DateTime.UtcNow.AddSeconds(10)).WithTimeout());
        await Assert.ThrowsAsync<RpcException>(() => stranger.GetLocalActorIdsAsync(new Empty(), deadline: DateTime.UtcNow.AddSeconds(10)).WithTimeout());

        // Under TLS 1.3 the client may finish its side of the handshake and send the call before the server's
        // refusal (an alert) arrives: the client then reports INTERNAL instead of UNAVAILABLE. No call is served.
        Assert.Contains(ex.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        var got = await Https(node, _cluster).GetAsync(new GetRequest { Id = id }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Empty(Carts.State(got).Items);
    }

    [Fact]
    public async Task RefusedHandshakesAreWarnedOnceAWindowNamingTheRefusedCertificate()
    {
        var logs = new CapturedLogs();
        var leaf = _cluster.Issue("node-a");
        await using var node = await RunningNode.StartAsync(
            ["--store", "memory", "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile, "--tls-client-ca", _cluster.CaFile],
            customize: b => b.Logging.AddProvider(logs));

        // Two refusals in a row: one warning line at once, the second waits for the next window.
        for (var i = 0; i < 2; i++)
        {
            var stranger = Https(node, _cluster, _other.Issue("stranger-" + i).Certificate);
            await Assert.ThrowsAsync<RpcException>(() => stranger.GetAsync(new GetRequest { Id = 1 }, deadline: DateTime.UtcNow.AddSeconds(10)).WithTimeout());
        }

        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (!logs.Lines.Any(l => l.EventId.Id == 40) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var warning = Assert.Single(logs.Lines, l => l.EventId.Id == 40);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.StartsWith("1 TLS handshakes on the gRPC port failed", warning.Message, StringComparison.Ordinal);
        Assert.Contains("stranger-0", warning.Message, StringComparison.Ordinal);
        // A good client is still served, and its handshake is not counted.
        await Https(node, _cluster).GetAsync(new GetRequest { Id = 1 }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
    }

    [Fact]
    public void TheHandshakeWarningCountsEveryFailureOfAWindowAndTheHeartbeatWritesTheLast()
    {
        var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var watch = new TlsHandshakeWatch(factory.CreateLogger<TlsHandshakeWatch>(), time);

        watch.Failed();
        watch.Failed();
        watch.Failed();
        watch.OnHeartbeat();
        time.Advance(TlsHandshakeWatch.Interval);
        watch.OnHeartbeat();
        watch.OnHeartbeat();

        Assert.Equal(
            ["1 TLS handshakes", "2 TLS handshakes"],
            logs.Lines.Where(l => l.EventId.Id == 40).Select(l => l.Message[..l.Message.IndexOf(" on ", StringComparison.Ordinal)]));
    }

    [Fact]
    public async Task ANodeOfAnotherCaCannotJoin()
    {
        var a = _cluster.Issue("node-a");
        var intruder = _other.Issue("intruder");
        var (first, second) = await TwoNodes.StartAsync(
            ["--tls-cert", a.CertFile, "--tls-key", a.KeyFile, "--tls-client-ca", _cluster.CaFile],
            ["--tls-cert", intruder.CertFile, "--tls-key", intruder.KeyFile, "--tls-client-ca", _other.CaFile]);
        await using var _ = first;
        await using var __ = second;

        // Ten ping intervals: neither side ever lists the other.
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.False(TwoNodes.IsPair(first, second), TwoNodes.Members(first));
        Assert.False(TwoNodes.IsPair(second, first), TwoNodes.Members(second));
    }

    public static TheoryData<string, string> StartupRefusals => new()
    {
        { "key-only", "Node:TlsKey (--tls-key) is set without Node:TlsCert (--tls-cert)" },
        { "ca-only", "Node:TlsClientCa (--tls-client-ca) needs Node:TlsCert (--tls-cert)" },
        { "missing-cert", "Node:TlsCert (--tls-cert) '/nonexistent/cert.pem' could not be read" },
        { "garbage-cert", "Node:TlsCert (--tls-cert)" },
        { "mismatched-key", "are not a PEM certificate and its matching private key" },
        { "cert-without-key", "must hold a PEM certificate and its private key" },
        { "garbage-ca", "Node:TlsClientCa (--tls-client-ca)" },
    };

    [Theory]
    [MemberData(nameof(StartupRefusals))]
    public void BadTlsSettingsStopStartUpNamingTheFlag(string problem, string expected)
    {
        var leaf = _cluster.Issue("node");
        var other = _cluster.Issue("other");
        var garbage = Path.Combine(_cluster.Directory, "garbage.pem");
        File.WriteAllText(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
        string[] tls = problem switch
        {
            "key-only" => ["--tls-key", leaf.KeyFile],
            "ca-only" => ["--tls-client-ca", _cluster.CaFile],
            "missing-cert" => ["--tls-cert", "/nonexistent/cert.pem", "--tls-key", leaf.KeyFile],
            "garbage-cert" => ["--tls-cert", garbage, "--tls-key", leaf.KeyFile],
            "mismatched-key" => ["--tls-cert", leaf.CertFile, "--tls-key", other.KeyFile],
            "cert-without-key" => ["--tls-cert", leaf.CertFile],
            "garbage-ca" => ["--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile, "--tls-client-ca", garbage],
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(["--port", "0", "--http-port", "0", "--store", "memory", .. tls]));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheBuiltNodeRefusesAKeyWithoutACertificateInOneLineNamingTheFlag()
    {
        var leaf = _cluster.Issue("node");

        var (exitCode, _, stderr) = await NodeCommand.RunAsync("--port", "0", "--http-port", "0", "--store", "memory", "--tls-key", leaf.KeyFile);

        Assert.Equal(2, exitCode);
        Assert.Equal("cartactor: invalid configuration: Node:TlsKey (--tls-key) is set without Node:TlsCert (--tls-cert)", stderr.Trim());
    }

    private ControlPlaneClient Https(RunningNode node, TestCertificates trust, System.Security.Cryptography.X509Certificates.X509Certificate2? clientCertificate = null)
    {
        var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{node.GrpcPort}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { SslOptions = trust.ClientOptions(clientCertificate) },
        });
        _channels.Add(channel);
        return new ControlPlaneClient(channel);
    }

    private static ulong IdOwnedBy(RunningNode node)
    {
        while (true)
        {
            var id = Carts.NewId();
            if (node.Get<ClusterView>().Map.Lookup(id).Kind == OwnerKind.Local)
            {
                return id;
            }
        }
    }
}

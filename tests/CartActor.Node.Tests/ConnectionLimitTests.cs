using CartActor.Node.Hosting;
using CartActor.Tests.Shared;
using Grpc.Core;
using Empty = CartActor.ControlPlane.Empty;

namespace CartActor.Node.Tests;

/// <summary>Connections beyond the cap are refused while the node keeps serving the open ones.</summary>
public sealed class ConnectionLimitTests
{
    [Fact]
    public async Task ConnectionsBeyondTheCapAreRefusedWhileTheOpenOnesKeepServing()
    {
        // RunningNode's own client holds one connection on the gRPC port.
        await using var node = await RunningNode.StartAsync(["--Node:MaxConnections", "4"]);
        await node.Client.PingAsync(new Empty()).WithTimeout();
        var open = new List<ControlPlane.ControlPlane.ControlPlaneClient>();
        for (var i = 0; i < 3; i++)
        {
            var client = new ControlPlane.ControlPlane.ControlPlaneClient(node.NewChannel());
            await client.PingAsync(new Empty()).WithTimeout();
            open.Add(client);
        }

        var refused = new ControlPlane.ControlPlane.ControlPlaneClient(node.NewChannel());
        var ex = await Assert.ThrowsAsync<RpcException>(() => refused.PingAsync(new Empty(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        // UNAVAILABLE naming the setting (a client retries elsewhere), never INTERNAL: the node answers the refused
        // connection's first request in HTTP/2 instead of closing it before the client could open a stream.
        Assert.True(ex.StatusCode == StatusCode.Unavailable, $"refused connection: {ex.Status}");
        Assert.Contains("Node:MaxConnections", ex.Status.Detail, StringComparison.Ordinal);

        // The open connections are all still served.
        foreach (var client in open.Append(node.Client))
        {
            var id = Carts.NewId();
            var applied = await client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-a"))).WithTimeout();
            Assert.Equal(1UL, Carts.State(applied).Version);
        }
    }

    [Fact]
    public async Task ARefusedConnectionThatSendsNothingIsClosedSoon()
    {
        await using var node = await RunningNode.StartAsync(["--Node:MaxConnections", "1"]);
        await node.Client.PingAsync(new Empty()).WithTimeout();

        // An idle socket beyond the cap must not hold a file descriptor: closed after the 1 s answer timeout.
        using var idle = new System.Net.Sockets.TcpClient();
        await idle.ConnectAsync(System.Net.IPAddress.Loopback, node.GrpcPort).WithTimeout();
        var read = await idle.GetStream().ReadAsync(new byte[64]).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, read);
        await node.Client.PingAsync(new Empty()).WithTimeout();
    }

    [Theory]
    [InlineData(512L, 128)]
    [InlineData(1024L, 384)]
    [InlineData(280L, 16)]
    [InlineData(1_048_576L, 100_000)]
    public void TheDefaultCapStaysBelowTheOpenFileLimit(long softLimit, int expected) =>
        Assert.Equal(expected, ConnectionLimit.FromOpenFileLimit(softLimit));
}

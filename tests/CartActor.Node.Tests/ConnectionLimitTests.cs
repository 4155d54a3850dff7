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
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);

        // The open connections are all still served.
        foreach (var client in open.Append(node.Client))
        {
            var id = Carts.NewId();
            var applied = await client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-a"))).WithTimeout();
            Assert.Equal(1UL, Carts.State(applied).Version);
        }
    }

    [Theory]
    [InlineData(512L, 128)]
    [InlineData(1024L, 384)]
    [InlineData(280L, 16)]
    [InlineData(1_048_576L, 100_000)]
    public void TheDefaultCapStaysBelowTheOpenFileLimit(long softLimit, int expected) =>
        Assert.Equal(expected, ConnectionLimit.FromOpenFileLimit(softLimit));
}

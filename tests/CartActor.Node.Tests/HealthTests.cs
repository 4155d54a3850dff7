using System.Net;
using CartActor.Node.Hosting;
using CartActor.Tests.Shared;
using Grpc.Core;
using Grpc.Health.V1;
using Empty = CartActor.ControlPlane.Empty;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace CartActor.Node.Tests;

/// <summary>What a load balancer or Kubernetes probe sees: grpc.health.v1 and the HTTP /healthz and /readyz.</summary>
[Collection(SharedNodeCollection.Name)]
public sealed class HealthTests(NodeFixture fixture)
{
    private RunningNode Node => fixture.Node;

    [Theory]
    [InlineData("")]
    [InlineData("control_plane_messages.ControlPlane")]
    public async Task GrpcHealthIsServingOnceReady(string service)
    {
        var health = new Health.HealthClient(Node.Channel);

        var reply = await health.CheckAsync(new HealthCheckRequest { Service = service }).WithTimeout();

        Assert.Equal(ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task HttpHealthzAndReadyzAnswer200WhenReady()
    {
        using var healthz = await Node.Http.GetAsync("/healthz").WithTimeout();
        using var readyz = await Node.Http.GetAsync("/readyz").WithTimeout();

        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readyz.StatusCode);
    }
}

/// <summary>Draining and stopping, each on a node of its own.</summary>
public sealed class DrainingHealthTests
{
    [Fact]
    public async Task DrainingTurnsHealthNotServingAndReadyz503WhileCallsAreStillServed()
    {
        await using var node = await RunningNode.StartAsync();
        var health = new Health.HealthClient(node.Channel);

        node.Get<NodeReadiness>().MarkDraining();

        Assert.Equal(ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest()).WithTimeout()).Status);
        Assert.Equal(
            ServingStatus.NotServing,
            (await health.CheckAsync(new HealthCheckRequest { Service = NodeReadiness.ControlPlaneServiceName }).WithTimeout()).Status);
        using (var readyz = await node.Http.GetAsync("/readyz").WithTimeout())
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz.StatusCode);
            Assert.Equal("draining", await readyz.Content.ReadAsStringAsync().WithTimeout());
        }

        // Liveness stays up. During the drain delay the node is still a full member (load balancers stop
        // routing to it meanwhile), so Ping answers and cart calls that still arrive are served, not failed.
        using (var healthz = await node.Http.GetAsync("/healthz").WithTimeout())
        {
            Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        }

        Assert.Equal(node.AdvertisedHost, (await node.Client.PingAsync(new Empty()).WithTimeout()).Host);
        var id = Carts.NewId();
        var applied = await node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-late"))).WithTimeout();
        Assert.Equal("sku-late", Assert.Single(Carts.State(applied).Items).Sku);
    }

    [Fact]
    public async Task StoppingTellsAHealthWatcherNotServingBeforeTheNodeGoes()
    {
        await using var node = await RunningNode.StartAsync();
        var health = new Health.HealthClient(node.Channel);
        using var watchCancel = new CancellationTokenSource(TestTimeouts.Default);
        using var watch = health.Watch(new HealthCheckRequest(), cancellationToken: watchCancel.Token);
        Assert.True(await watch.ResponseStream.MoveNext(watchCancel.Token).WithTimeout());
        Assert.Equal(ServingStatus.Serving, watch.ResponseStream.Current.Status);

        var stopping = node.StopAsync();

        Assert.True(await watch.ResponseStream.MoveNext(watchCancel.Token).WithTimeout());
        Assert.Equal(ServingStatus.NotServing, watch.ResponseStream.Current.Status);
        Assert.False(node.Get<NodeReadiness>().IsReady);

        // The watcher hangs up, as a load balancer does once told; the stop then completes.
        await watchCancel.CancelAsync();
        await stopping.WithTimeout();
    }
}

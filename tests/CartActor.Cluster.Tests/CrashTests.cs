using CartActor.ControlPlane;
using CartActor.Node.Membership;
using CartActor.Tests.Shared;
using Grpc.Core;

namespace CartActor.Cluster.Tests;

[Trait("Category", "Cluster")]
public sealed class CrashTests
{
    [Fact]
    public async Task AKilledNodeIsSuspectAtOnceAndDroppedWithinTheDeadAfterTime()
    {
        await using var cluster = await TestCluster.StartAsync(2);
        await using var victim = await NodeProcess.StartAsync([.. TestCluster.FastTimers, "--seeds", $"127.0.0.1:{cluster.Nodes[0].GrpcPort}"]);
        var survivor = cluster.Nodes[0];
        var view = survivor.Get<ClusterView>();
        await Eventually.TrueAsync(() => cluster.Nodes.All(n => n.Get<ClusterView>().Ring.Contains(victim.AdvertisedHost)), TimeSpan.FromSeconds(20));

        // A cart that the victim owns, written through the survivor (so it is forwarded there).
        var cartId = Enumerable.Range(1, 1000).Select(i => (ulong)i).First(id => view.Ring.OwnerOf(id) == victim.AdvertisedHost);
        var request = new ApplyRequest { Id = cartId };
        request.Messages.Add(TestCluster.Add("before-crash"));
        var applied = await survivor.Client.ApplyAsync(request).ResponseAsync.WithTimeout();
        Assert.False(applied.Mutations[0].HasError);

        await victim.KillAsync();

        // Suspect after three missed pings: requests for its carts fail fast, naming it, instead of hanging.
        await Eventually.TrueAsync(() => view.Ring.Lookup(cartId).Kind == CartActor.Ownership.OwnerKind.Suspect, TimeSpan.FromSeconds(5));
        var started = DateTime.UtcNow;
        var refused = await Assert.ThrowsAsync<RpcException>(() => survivor.Client.GetAsync(new GetRequest { Id = cartId }, deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains(victim.AdvertisedHost, refused.Status.Detail);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2), "a request for a suspect owner's cart must fail fast");

        // Dropped within the configured dead-after time (3 s in these tests), on every survivor.
        await cluster.WaitForConvergenceAsync(TimeSpan.FromSeconds(8));
        Assert.All(cluster.Nodes, n => Assert.False(n.Get<ClusterView>().Ring.Contains(victim.AdvertisedHost)));

        // Without a shared store, what only the killed node held is gone: the cart starts empty on its new owner.
        var after = TestCluster.State(await survivor.Client.GetAsync(new GetRequest { Id = cartId }).ResponseAsync.WithTimeout());
        Assert.Empty(after.Items);
        Assert.Equal(0UL, after.Version);
    }
}

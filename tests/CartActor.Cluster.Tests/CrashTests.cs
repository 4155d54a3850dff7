using CartActor.ControlPlane;
using CartActor.Node.Membership;
using CartActor.Tests.Shared;

namespace CartActor.Cluster.Tests;

[Trait("Category", "Cluster")]
public sealed class CrashTests
{
    [Fact]
    public async Task AKilledNodesCartsAreServedByTheirStandInsAtOnceWithTheirStateAndItIsDroppedWithinTheDeadAfterTime()
    {
        await using var cluster = await TestCluster.StartAsync(2);
        await using var victim = await NodeProcess.StartAsync([.. TestCluster.FastTimers, .. cluster.StoreArgs, "--seeds", $"127.0.0.1:{cluster.Nodes[0].GrpcPort}"]);
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

        // No wait for the dead-after time: the first call finds the connection refused, marks the victim
        // Suspect and is served by the cart's stand-in, which loads it from the shared store.
        var started = DateTime.UtcNow;
        var after = TestCluster.State(await survivor.Client.GetAsync(new GetRequest { Id = cartId }, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync.WithTimeout());
        Assert.Equal("before-crash", Assert.Single(after.Items).Sku);
        Assert.Equal(1UL, after.Version);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2), $"the stand-in took {DateTime.UtcNow - started} to serve the cart");
        Assert.NotEqual(victim.AdvertisedHost, view.Ring.Lookup(cartId).Owner);

        // Writes go on through any node, with nothing lost.
        var write = new ApplyRequest { Id = cartId };
        write.Messages.Add(TestCluster.Add("after-crash"));
        var written = TestCluster.State(new GetReply { Grain = (await cluster.Nodes[1].Client.ApplyAsync(write, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync.WithTimeout()).State });
        Assert.Equal(["before-crash", "after-crash"], written.Items.Select(i => i.Sku));

        // Dropped within the configured dead-after time (3 s in these tests), on every survivor.
        await cluster.WaitForConvergenceAsync(TimeSpan.FromSeconds(8));
        Assert.All(cluster.Nodes, n => Assert.False(n.Get<ClusterView>().Ring.Contains(victim.AdvertisedHost)));
    }
}

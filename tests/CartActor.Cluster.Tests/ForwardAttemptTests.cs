using CartActor.ControlPlane;
using CartActor.Node.Membership;
using CartActor.Tests.Shared;

namespace CartActor.Cluster.Tests;

[Trait("Category", "Cluster")]
public sealed class ForwardAttemptTests
{
    [Fact]
    public async Task ACallWithAFiveSecondDeadlineIsServedByTheStandInWhileTheOwnerHangs()
    {
        // The survivors forget a silent member only after 30 s, so the forward's channel is not disposed within
        // the call: only the per-attempt cap (Cluster:ForwardAttemptTimeout, default 2 s) frees the call from
        // the hung owner in time to retry at the stand-in, which membership has meanwhile chosen (fast timers:
        // suspect after about 1.1 s).
        await using var cluster = await TestCluster.StartAsync(2, "--Cluster:DeadAfter", "00:00:30");
        await using var victim = await NodeProcess.StartAsync([.. TestCluster.FastTimers, .. cluster.StoreArgs, "--seeds", $"127.0.0.1:{cluster.Nodes[0].GrpcPort}"]);
        var survivor = cluster.Nodes[0];
        var view = survivor.Get<ClusterView>();
        await Eventually.TrueAsync(() => cluster.Nodes.All(n => n.Get<ClusterView>().Ring.Contains(victim.AdvertisedHost)), TimeSpan.FromSeconds(20));

        var cartId = Enumerable.Range(1, 1000).Select(i => (ulong)i).First(id => view.Ring.OwnerOf(id) == victim.AdvertisedHost);
        var request = new ApplyRequest { Id = cartId };
        request.Messages.Add(TestCluster.Add("before-pause"));
        var applied = await survivor.Client.ApplyAsync(request, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync.WithTimeout();
        Assert.False(applied.Mutations[0].HasError);

        // SIGSTOP: the owner's socket accepts the forward and never answers.
        await victim.PauseAsync();
        var read = await survivor.Client.GetAsync(new GetRequest { Id = cartId }, deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync.WithTimeout();
        var state = TestCluster.State(read);
        Assert.Equal("before-pause", Assert.Single(state.Items).Sku);
        Assert.NotEqual(victim.AdvertisedHost, view.Ring.Lookup(cartId).Owner);

        // Writes through the other node go on as well, with nothing lost.
        var write = new ApplyRequest { Id = cartId };
        write.Messages.Add(TestCluster.Add("while-paused"));
        var written = await cluster.Nodes[1].Client.ApplyAsync(write, deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync.WithTimeout();
        Assert.Equal(["before-pause", "while-paused"], TestCluster.State(new GetReply { Grain = written.State }).Items.Select(i => i.Sku));
    }
}

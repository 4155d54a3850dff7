using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Empty = CartActor.ControlPlane.Empty;

namespace CartActor.Node.Tests;

/// <summary>The eight RPCs of control_plane.proto on one node, as a Grpc.Net.Client user sees them.</summary>
[Collection(SharedNodeCollection.Name)]
public sealed class ControlPlaneRpcTests(NodeFixture fixture)
{
    private RunningNode Node => fixture.Node;

    [Fact]
    public async Task ApplyReturnsTheStateAfterTheBatchAndOneResultPerMutationAsSent()
    {
        var id = Carts.NewId();
        var request = Carts.Apply(id, Carts.Item("sku-a", quantity: 2, unitPrice: 1_250), Carts.Item("sku-b", quantity: 1, unitPrice: 999, taxRate: 1_200));

        var result = await Node.Client.ApplyAsync(request).WithTimeout();

        var state = Carts.State(result);
        Carts.AssertConsistent(state, id);
        Assert.Equal(CartStatus.Open, state.Status);
        Assert.Equal(2UL, state.Version);
        Assert.Equal(["sku-a", "sku-b"], state.Items.Select(i => i.Sku));
        Assert.Equal(2 * 1_250 + 999, state.TotalPrice);
        Assert.Equal(2, result.Mutations.Count);
        for (var i = 0; i < request.Messages.Count; i++)
        {
            Assert.Equal("AddItem", result.Mutations[i].Type);
            Assert.Equal(request.Messages[i], result.Mutations[i].Message);
            Assert.False(result.Mutations[i].HasError, result.Mutations[i].Error);
        }
    }

    [Fact]
    public async Task ApplyReportsAFailedMutationInItsResultAndStillAppliesTheRest()
    {
        var id = Carts.NewId();
        var request = Carts.Apply(id, Carts.Item("sku-bad", quantity: 0), Carts.Item("sku-good", quantity: 3), new RemoveItem { ItemId = 9_999 });

        var result = await Node.Client.ApplyAsync(request).WithTimeout();

        Assert.Equal(["AddItem", "AddItem", "RemoveItem"], result.Mutations.Select(m => m.Type));
        Assert.True(result.Mutations[0].HasError);
        Assert.Contains("quantity", result.Mutations[0].Error, StringComparison.Ordinal);
        Assert.False(result.Mutations[1].HasError);
        Assert.True(result.Mutations[2].HasError);
        Assert.Contains("9999", result.Mutations[2].Error, StringComparison.Ordinal);
        Assert.Equal(request.Messages, result.Mutations.Select(m => m.Message));
        var state = Carts.State(result);
        Carts.AssertConsistent(state, id);
        Assert.Equal(1UL, state.Version);
        Assert.Equal("sku-good", Assert.Single(state.Items).Sku);
    }

    [Fact]
    public async Task ApplyNamesAnUnknownMutationTypeInItsResult()
    {
        var id = Carts.NewId();
        var request = new ApplyRequest { Id = id };
        request.Messages.Add(Any.Pack(new StringValue { Value = "not a mutation" }));

        var result = await Node.Client.ApplyAsync(request).WithTimeout();

        var mutation = Assert.Single(result.Mutations);
        Assert.True(mutation.HasError);
        Assert.Contains("google.protobuf.StringValue", mutation.Error, StringComparison.Ordinal);
        Assert.Equal(request.Messages[0], mutation.Message);
        Assert.Equal(0UL, Carts.State(result).Version);
    }

    [Fact]
    public async Task GetOfAnUntouchedCartIsEmptyOpenAtVersionZero()
    {
        var id = Carts.NewId();

        var reply = await Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout();

        var state = Carts.State(reply);
        Assert.Equal(id, state.Id);
        Assert.Empty(state.Items);
        Assert.Empty(state.Deliveries);
        Assert.Empty(state.Vouchers);
        Assert.Equal(CartStatus.Open, state.Status);
        Assert.Equal(0UL, state.Version);
        Assert.Equal(0L, state.TotalPrice);
        Assert.Equal("EUR", state.Currency);
    }

    [Fact]
    public async Task GetReturnsWhatApplyLeft()
    {
        var id = Carts.NewId();
        var applied = await Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-x", quantity: 4, unitPrice: 500))).WithTimeout();

        var reply = await Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout();

        Assert.Equal(Carts.State(applied), Carts.State(reply));
        Assert.Equal(2_000L, Carts.State(reply).TotalPrice);
    }

    [Fact]
    public async Task PingAnswersWithTheAdvertisedHostAndTheTimeNow()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var reply = await Node.Client.PingAsync(new Empty()).WithTimeout();

        var after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal($"127.0.0.1:{Node.GrpcPort}", reply.Host);
        Assert.InRange(reply.UnixTime, before - 1, after + 1);
    }

    [Fact]
    public async Task NegotiateReturnsThisNodeFirst()
    {
        var self = $"127.0.0.1:{Node.GrpcPort}";

        var reply = await Node.Client.NegotiateAsync(new NegotiateRequest { KnownHosts = { self } }).WithTimeout();

        Assert.Equal(self, reply.Hosts[0]);
        Assert.Single(reply.Hosts, h => h == self);
    }

    [Fact]
    public async Task NegotiateRefusesAHostThatIsNotNameColonPort()
    {
        var ex = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument,
            Node.Client.NegotiateAsync(new NegotiateRequest { KnownHosts = { "fine.test:1337", "no-port" } }));

        Assert.Contains("known_hosts[1]", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetLocalActorIdsListsTheCartsAppliedOnThisNode()
    {
        ulong first = Carts.NewId(), second = Carts.NewId(), onlyRead = Carts.NewId();
        await Node.Client.ApplyAsync(Carts.Apply(first, Carts.Item("sku-1"))).WithTimeout();
        await Node.Client.ApplyAsync(Carts.Apply(second, Carts.Item("sku-2"))).WithTimeout();
        await Node.Client.GetAsync(new GetRequest { Id = onlyRead }).WithTimeout();

        var reply = await Node.Client.GetLocalActorIdsAsync(new Empty()).WithTimeout();

        Assert.Contains(first, reply.Ids);
        Assert.Contains(second, reply.Ids);
        Assert.DoesNotContain(onlyRead, reply.Ids);
        Assert.Equal(reply.Ids.Count, reply.Ids.Distinct().Count());
    }

    [Fact]
    public async Task AnnouncementsAreAcknowledgedAndMoveNoCart()
    {
        // The seed's first-touch claims: the ring decides who serves a cart, so a claim is acknowledged and kept nowhere.
        var cart = Carts.NewId();
        await Node.Client.ApplyAsync(Carts.Apply(cart, Carts.Item("mine")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();

        var claim = await Node.Client.AnnounceOwnershipAsync(new OwnershipAnnounce { Host = "owner-1.test:1337", Ids = { cart, Carts.NewId() } }).WithTimeout();
        var expiry = await Node.Client.AnnounceExpiryAsync(new ExpiryAnnounce { Host = "owner-1.test:1337", Ids = { cart } }).WithTimeout();

        Assert.True(claim.Accepted);
        Assert.Equal("2 claims from owner-1.test:1337 acknowledged; not kept: the ring decides ownership", claim.Message);
        Assert.True(expiry.Accepted);
        Assert.Equal("1 expiries from owner-1.test:1337 acknowledged; no claims are kept: the ring decides ownership", expiry.Message);
        var reply = await Node.Client.GetAsync(new GetRequest { Id = cart }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Equal(["mine"], reply.Grain.Unpack<CartState>().Items.Select(i => i.Sku));
    }

    [Fact]
    public async Task ClosingIsAcceptedAndRemovesTheHostFromNegotiate()
    {
        // Nothing listens on port 9 of loopback: a peer that is known but does not answer. A node that can
        // have peers (not on its own disk) learns it.
        const string leaving = "127.0.0.1:9";
        await using var node = await RunningNode.StartAsync(["--store", "memory"]);
        await node.Client.NegotiateAsync(new NegotiateRequest { KnownHosts = { leaving } }).WithTimeout();

        var ack = await node.Client.ClosingAsync(new ClosingNotice { Host = leaving }).WithTimeout();

        Assert.True(ack.Accepted);
        Assert.Contains("removed", ack.Message, StringComparison.Ordinal);
        var view = await node.Client.NegotiateAsync(new NegotiateRequest()).WithTimeout();
        Assert.DoesNotContain(leaving, view.Hosts);
    }

    [Fact]
    public async Task AnnouncementsAndClosingWithAnEmptyHostAreInvalidArguments()
    {
        var ownership = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.AnnounceOwnershipAsync(new OwnershipAnnounce { Ids = { 1 } }));
        var expiry = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.AnnounceExpiryAsync(new ExpiryAnnounce { Ids = { 1 } }));
        var closing = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.ClosingAsync(new ClosingNotice()));

        Assert.All([ownership, expiry, closing], ex => Assert.Contains("host", ex.Status.Detail, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("take")]
    [InlineData("taken=99")]
    public async Task TheRemovedHandOverMarkIsIgnored_AGetStaysAPlainRead(string mark)
    {
        var id = Carts.NewId();
        await Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("kept"))).WithTimeout();
        await Node.Get<CartRuntime>().EvictAllAsync().WithTimeout();
        var marked = new Metadata { { "x-cart-handoff", mark } };

        // No node takes carts from another any more: the mark neither exports, drops nor deletes anything.
        var read = Carts.State(await Node.Client.GetAsync(new GetRequest { Id = id }, marked).WithTimeout());
        Assert.Equal("kept", Assert.Single(read.Items).Sku);
        Assert.True(Node.Get<CartRuntime>().IsActive(id));

        var state = Carts.State(await Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout());
        Assert.Equal("kept", Assert.Single(state.Items).Sku);
        Assert.Equal(1UL, state.Version);
    }
}

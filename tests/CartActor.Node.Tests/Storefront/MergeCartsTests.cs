using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.Node.Membership;
using CartActor.Node.Services.Storefront;
using CartActor.Ownership;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using Grpc.Core;

namespace CartActor.Node.Tests.Storefront;

/// <summary>MergeCarts (guest to customer): each strategy, the MERGED source, crashes between steps, two nodes.</summary>
public sealed class MergeCartsTests
{
    [Theory]
    [InlineData(MergeStrategy.MergeLines, new[] { "sku-shared:999", "sku-target:1", "sku-guest:2" })]
    [InlineData(MergeStrategy.Unspecified, new[] { "sku-shared:999", "sku-target:1", "sku-guest:2" })]
    [InlineData(MergeStrategy.KeepTarget, new[] { "sku-shared:995", "sku-target:1" })]
    [InlineData(MergeStrategy.ReplaceWithSource, new[] { "sku-shared:7", "sku-guest:2" })]
    public async Task EachStrategy_ShapesTheTarget_AndClosesTheSource(MergeStrategy strategy, string[] expected)
    {
        await using var node = await RunningNode.StartAsync();
        var client = new CartService.CartServiceClient(node.Channel);
        var (target, source) = await TwoCartsAsync(client);

        var reply = await client.MergeCartsAsync(new MergeCartsRequest { TargetId = target, SourceId = source, Strategy = strategy }).WithTimeout();

        Assert.Equal(expected, reply.Target.Items.Select(i => $"{i.Sku}:{i.Quantity}"));
        Assert.Equal(CartStatus.Merged, reply.Source.Status);
        Assert.Equal(target, reply.Source.MergedInto);
        Assert.Equal([source], reply.Target.MergedFrom);
        Carts.AssertConsistent(reply.Target, target);

        // Terminal: the source refuses every change, and a repeat of the merge changes nothing.
        var refused = await GrpcTestExtensions.AssertStatusAsync(StatusCode.FailedPrecondition, client.AddItemAsync(new AddItemRequest { CartId = source, Item = Carts.Item("sku-late") }));
        Assert.Contains($"MERGED into cart {target}", refused.Status.Detail, StringComparison.Ordinal);
        var again = await client.MergeCartsAsync(new MergeCartsRequest { TargetId = target, SourceId = source, Strategy = strategy }).WithTimeout();
        Assert.Equal(reply.Target, again.Target);
        Assert.Equal(reply.Source, again.Source);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task ACrashAfterAnyStep_IsCompletedOnceByTheRetry(int crashAfter)
    {
        await using var node = await RunningNode.StartAsync();
        var client = new CartService.CartServiceClient(node.Channel);
        var (target, source) = await TwoCartsAsync(client);
        var merges = node.Get<MergeCoordinator>();
        merges.AfterStep = step =>
        {
            if (step == crashAfter)
            {
                throw new IOException($"simulated crash after step {step}");
            }
        };
        var request = new MergeCartsRequest { TargetId = target, SourceId = source, Strategy = MergeStrategy.MergeLines };

        await GrpcTestExtensions.AssertStatusAsync(StatusCode.Internal, client.MergeCartsAsync(request, new Metadata { { "idempotency-key", "merge-1" } }));
        merges.AfterStep = null;
        var reply = await client.MergeCartsAsync(request, new Metadata { { "idempotency-key", "merge-1" } }).WithTimeout();

        Assert.Equal(["sku-shared:999", "sku-target:1", "sku-guest:2"], reply.Target.Items.Select(i => $"{i.Sku}:{i.Quantity}"));
        Assert.Equal(CartStatus.Merged, reply.Source.Status);
        var read = await client.GetCartAsync(new GetCartRequest { CartId = target }).WithTimeout();
        Assert.Equal(reply.Target, read);
    }

    [Fact]
    public async Task ATargetThatRefuses_LeavesTheSourceOpen()
    {
        await using var node = await RunningNode.StartAsync();
        var client = new CartService.CartServiceClient(node.Channel);
        var (target, source) = await TwoCartsAsync(client);
        await client.BeginCheckoutAsync(new BeginCheckoutRequest { CartId = target }).WithTimeout();
        await client.CompleteOrderAsync(new CompleteOrderRequest { CartId = target, OrderReference = "done" }).WithTimeout();

        var ex = await GrpcTestExtensions.AssertStatusAsync(StatusCode.FailedPrecondition, client.MergeCartsAsync(new MergeCartsRequest { TargetId = target, SourceId = source }));

        Assert.Contains("ORDERED", ex.Status.Detail, StringComparison.Ordinal);
        var guest = await client.GetCartAsync(new GetCartRequest { CartId = source }).WithTimeout();
        Assert.Equal(CartStatus.Open, guest.Status);
        await client.AddItemAsync(new AddItemRequest { CartId = source, Item = Carts.Item("sku-still-open") }).WithTimeout();
    }

    [Fact]
    public async Task ASourceAlreadyMergedElsewhere_IsRefused()
    {
        await using var node = await RunningNode.StartAsync();
        var client = new CartService.CartServiceClient(node.Channel);
        var (target, source) = await TwoCartsAsync(client);
        await client.MergeCartsAsync(new MergeCartsRequest { TargetId = target, SourceId = source }).WithTimeout();

        var ex = await GrpcTestExtensions.AssertStatusAsync(StatusCode.FailedPrecondition, client.MergeCartsAsync(new MergeCartsRequest { TargetId = Carts.NewId(), SourceId = source }));
        Assert.Contains($"already MERGED into cart {target}", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Redis")]
    public async Task AcrossTwoNodes_ACrashBetweenSteps_IsCompletedOnceThroughTheOtherNode()
    {
        using var redis = new RedisServerFixture();
        await using var first = await RunningNode.StartAsync([.. TwoNodes.FastPings[2..], "--store", redis.ConnectionString]);
        await using var second = await RunningNode.StartAsync([.. TwoNodes.FastPings[2..], "--store", redis.ConnectionString, "--seeds", first.AdvertisedHost]);
        await TwoNodes.WaitForPairAsync(first, second, TimeSpan.FromSeconds(20));
        var source = OwnedBy(first);
        var target = OwnedBy(second);
        var viaFirst = new CartService.CartServiceClient(first.Channel);
        var viaSecond = new CartService.CartServiceClient(second.Channel);
        await viaFirst.AddItemAsync(new AddItemRequest { CartId = source, Item = Carts.Item("sku-guest", 2) }).WithTimeout();
        await viaFirst.AddItemAsync(new AddItemRequest { CartId = target, Item = Carts.Item("sku-guest", 1) }).WithTimeout();
        first.Get<MergeCoordinator>().AfterStep = step =>
        {
            if (step == 2)
            {
                throw new IOException("simulated crash of the entry node after step 2");
            }
        };

        var request = new MergeCartsRequest { TargetId = target, SourceId = source, Strategy = MergeStrategy.MergeLines };
        await GrpcTestExtensions.AssertStatusAsync(StatusCode.Internal, viaFirst.MergeCartsAsync(request, deadline: GrpcTestExtensions.Deadline()));
        var reply = await viaSecond.MergeCartsAsync(request, deadline: GrpcTestExtensions.Deadline()).WithTimeout();

        Assert.Equal(3, Assert.Single(reply.Target.Items).Quantity);
        Assert.Equal(CartStatus.Merged, reply.Source.Status);
        Assert.Equal(reply.Source, await viaFirst.GetCartAsync(new GetCartRequest { CartId = source }).WithTimeout());
        Assert.Equal(reply.Target, await viaFirst.GetCartAsync(new GetCartRequest { CartId = target }).WithTimeout());
    }

    private static ulong OwnedBy(RunningNode node)
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

    /// <summary>A customer cart (995 of a shared sku, one of its own) and a guest cart (7 of the shared sku, 2 of its own).</summary>
    private static async Task<(ulong Target, ulong Source)> TwoCartsAsync(CartService.CartServiceClient client)
    {
        var target = Carts.NewId();
        var source = Carts.NewId();
        await client.AddItemAsync(new AddItemRequest { CartId = target, Item = Carts.Item("sku-shared", 995) }).WithTimeout();
        await client.AddItemAsync(new AddItemRequest { CartId = target, Item = Carts.Item("sku-target", 1) }).WithTimeout();
        await client.AddItemAsync(new AddItemRequest { CartId = source, Item = Carts.Item("sku-shared", 7) }).WithTimeout();
        await client.AddItemAsync(new AddItemRequest { CartId = source, Item = Carts.Item("sku-guest", 2) }).WithTimeout();
        return (target, source);
    }
}

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
    [InlineData((int)MergeStrategy.MergeLines, new[] { "sku-shared:999", "sku-target:1", "sku-guest:2" })]
    [InlineData((int)MergeStrategy.Unspecified, new[] { "sku-shared:999", "sku-target:1", "sku-guest:2" })]
    [InlineData((int)MergeStrategy.KeepTarget, new[] { "sku-shared:995", "sku-target:1" })]
    [InlineData((int)MergeStrategy.ReplaceWithSource, new[] { "sku-shared:7", "sku-guest:2" })]
    public async Task EachStrategy_ShapesTheTarget_AndClosesTheSource(int strategyValue, string[] expected)
    {
        // As a number: the node's generated contract types are internal (storefronts use CartActor.Client's).
        var strategy = (MergeStrategy)strategyValue;
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

    /// <summary>
    /// Beyond the lines (README, "Merge"): MERGE_LINES keeps the target's deliveries and vouchers and lets the
    /// source fill missing attributes (the target's win); KEEP_TARGET takes nothing; REPLACE_WITH_SOURCE takes the
    /// source's deliveries (naming the copied lines), vouchers and attributes.
    /// </summary>
    [Theory]
    [InlineData((int)MergeStrategy.MergeLines)]
    [InlineData((int)MergeStrategy.KeepTarget)]
    [InlineData((int)MergeStrategy.ReplaceWithSource)]
    public async Task EachStrategy_DecidesTheAttributesDeliveriesAndVouchers(int strategyValue)
    {
        var strategy = (MergeStrategy)strategyValue;
        await using var node = await RunningNode.StartAsync();
        var client = new CartService.CartServiceClient(node.Channel);
        var (target, source) = await TwoCartsAsync(client);
        await client.MutateAsync(Mutations(target,
            new Mutation { SetCartAttributes = Attributes(("customer", "c-1"), ("channel", "app")) },
            new Mutation { SetDelivery = new SetDelivery { Provider = "target-home", Price = 4_900, TaxRate = 2_500 } },
            new Mutation { AddVoucher = new AddVoucher { Code = "TARGET10", Amount = 1_000 } })).WithTimeout();
        var guest = (await client.MutateAsync(Mutations(source,
            new Mutation { SetCartAttributes = Attributes(("channel", "web"), ("campaign", "spring")) },
            new Mutation { SetItemAttributes = new SetItemAttributes { ItemId = 1, Attributes = { ["note"] = "guest" } } },
            new Mutation { SetItemAttributes = new SetItemAttributes { ItemId = 2, Attributes = { ["gift"] = "yes" } } },
            new Mutation { SetDelivery = new SetDelivery { Provider = "guest-pickup", Price = 2_900, TaxRate = 2_500, ItemIds = { 2 } } },
            new Mutation { AddVoucher = new AddVoucher { Code = "GUEST5", Amount = 500 } })).WithTimeout()).Cart;

        var merged = (await client.MergeCartsAsync(new MergeCartsRequest { TargetId = target, SourceId = source, Strategy = strategy }).WithTimeout()).Target;

        Carts.AssertConsistent(merged, target);
        switch (strategy)
        {
            case MergeStrategy.MergeLines:
                Assert.Equal(["customer=c-1", "channel=app", "campaign=spring"], merged.Attributes.Select(a => $"{a.Key}={a.Value}"));
                Assert.Equal("target-home", Assert.Single(merged.Deliveries).Provider);
                Assert.Equal("TARGET10", Assert.Single(merged.Vouchers).Code);
                Assert.Equal("guest", merged.Items.Single(i => i.Sku == "sku-shared").Attributes["note"]);
                Assert.Equal("yes", merged.Items.Single(i => i.Sku == "sku-guest").Attributes["gift"]);
                break;
            case MergeStrategy.KeepTarget:
                Assert.Equal(["customer=c-1", "channel=app"], merged.Attributes.Select(a => $"{a.Key}={a.Value}"));
                Assert.Equal("target-home", Assert.Single(merged.Deliveries).Provider);
                Assert.Equal("TARGET10", Assert.Single(merged.Vouchers).Code);
                Assert.Empty(merged.Items.Single(i => i.Sku == "sku-shared").Attributes);
                break;
            case MergeStrategy.ReplaceWithSource:
                Assert.Equal(["channel=web", "campaign=spring"], merged.Attributes.Select(a => $"{a.Key}={a.Value}"));
                var delivery = Assert.Single(merged.Deliveries);
                Assert.Equal("guest-pickup", delivery.Provider);
                Assert.Equal(guest.Deliveries[0].Tax, delivery.Tax);
                // It names the target's copy of the guest's line, not the source's item id.
                Assert.Equal("sku-guest", merged.Items.Single(i => i.Id == Assert.Single(delivery.ItemIds)).Sku);
                Assert.Equal("GUEST5", Assert.Single(merged.Vouchers).Code);
                Assert.Equal(guest.TotalPrice, merged.TotalPrice);
                Assert.Equal(guest.TotalTax, merged.TotalTax);
                Assert.Equal(guest.TaxLines, merged.TaxLines);
                break;
        }

        Assert.Equal(merged, await client.GetCartAsync(new GetCartRequest { CartId = target }).WithTimeout());
    }

    /// <summary>An idempotency key names one merge, as it names one Apply: reused for another merge it is refused and the carts keep their contents.</summary>
    [Fact]
    public async Task AKeyReusedForAnotherMerge_IsInvalidArgumentNamingIt_AndLeavesTheCartsAsTheyWere()
    {
        await using var node = await RunningNode.StartAsync();
        var client = new CartService.CartServiceClient(node.Channel);
        var (target, source) = await TwoCartsAsync(client);
        var key = new Metadata { { "idempotency-key", "merge-key-7" } };
        var first = await client.MergeCartsAsync(new MergeCartsRequest { TargetId = target, SourceId = source }, key).WithTimeout();

        // The same merge with the same key: the same result, applied once.
        var again = await client.MergeCartsAsync(new MergeCartsRequest { TargetId = target, SourceId = source, Strategy = MergeStrategy.MergeLines }, key).WithTimeout();
        Assert.Equal(first.Target, again.Target);
        Assert.Equal(first.Source, again.Source);

        // Another target, another strategy (the source knows the key), another source (the target knows it).
        var otherTarget = Carts.NewId();
        var (_, otherSource) = await TwoCartsAsync(client);
        var before = await client.GetCartAsync(new GetCartRequest { CartId = otherSource }).WithTimeout();
        MergeCartsRequest[] others =
        [
            new() { TargetId = otherTarget, SourceId = source },
            new() { TargetId = target, SourceId = source, Strategy = MergeStrategy.ReplaceWithSource },
            new() { TargetId = target, SourceId = otherSource },
        ];
        foreach (var other in others)
        {
            var ex = await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument, client.MergeCartsAsync(other, key));
            Assert.Contains("merge-key-7", ex.Status.Detail, StringComparison.Ordinal);
        }

        Assert.Equal(first.Target, await client.GetCartAsync(new GetCartRequest { CartId = target }).WithTimeout());
        Assert.Equal(0UL, (await client.GetCartAsync(new GetCartRequest { CartId = otherTarget }).WithTimeout()).Version);
        var untouched = await client.GetCartAsync(new GetCartRequest { CartId = otherSource }).WithTimeout();
        Assert.Equal(CartStatus.Open, untouched.Status);
        Assert.Equal(before.Items, untouched.Items);
        await client.AddItemAsync(new AddItemRequest { CartId = otherSource, Item = Carts.Item("sku-still-open") }).WithTimeout();
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

        // With a key, through either node: the first attempt crashes, the retry completes it once, and the key
        // reused for another merge is refused by the cart (on the other node) that knows it.
        var (keyedSource, keyedTarget) = (OwnedBy(second), OwnedBy(first));
        await viaFirst.AddItemAsync(new AddItemRequest { CartId = keyedSource, Item = Carts.Item("sku-guest", 2) }).WithTimeout();
        await viaFirst.AddItemAsync(new AddItemRequest { CartId = keyedTarget, Item = Carts.Item("sku-guest", 1) }).WithTimeout();
        var keyed = new MergeCartsRequest { TargetId = keyedTarget, SourceId = keyedSource };
        var key = new Metadata { { "idempotency-key", "merge-across-1" } };
        await GrpcTestExtensions.AssertStatusAsync(StatusCode.Internal, viaFirst.MergeCartsAsync(keyed, key, GrpcTestExtensions.Deadline()));
        var keyedReply = await viaSecond.MergeCartsAsync(keyed, key, GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Equal(3, Assert.Single(keyedReply.Target.Items).Quantity);
        Assert.Equal(CartStatus.Merged, keyedReply.Source.Status);
        var reused = await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument,
            viaFirst.MergeCartsAsync(new MergeCartsRequest { TargetId = Carts.NewId(), SourceId = keyedSource }, key, GrpcTestExtensions.Deadline()));
        Assert.Contains("merge-across-1", reused.Status.Detail, StringComparison.Ordinal);

        Assert.Equal(3, Assert.Single(reply.Target.Items).Quantity);
        Assert.Equal(CartStatus.Merged, reply.Source.Status);
        Assert.Equal(reply.Source, await viaFirst.GetCartAsync(new GetCartRequest { CartId = source }).WithTimeout());
        Assert.Equal(reply.Target, await viaFirst.GetCartAsync(new GetCartRequest { CartId = target }).WithTimeout());
    }

    private static MutateRequest Mutations(ulong cartId, params Mutation[] mutations)
    {
        var request = new MutateRequest { CartId = cartId };
        request.Mutations.Add(mutations);
        return request;
    }

    private static SetCartAttributes Attributes(params (string Key, string Value)[] attributes)
    {
        var set = new SetCartAttributes();
        foreach (var (key, value) in attributes)
        {
            set.Attributes[key] = value;
        }

        return set;
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

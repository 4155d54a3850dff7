using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.Node.Membership;
using CartActor.Ownership;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using CartActor.Node.Hosting;
using CartActor.Persistence;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace CartActor.Node.Tests.Storefront;

/// <summary>WatchCart: the current state, then each new version; bounded; a cart that moves ends the stream with UNAVAILABLE.</summary>
public sealed class WatchCartTests
{
    [Fact]
    public async Task AWatch_SendsTheCurrentState_ThenEveryNewVersion()
    {
        await using var node = await RunningNode.StartAsync();
        var client = new CartService.CartServiceClient(node.Channel);
        var id = Carts.NewId();
        await client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("sku-a") }).WithTimeout();
        using var watch = client.WatchCart(new WatchCartRequest { CartId = id }, deadline: GrpcTestExtensions.Deadline());

        Assert.Equal(1UL, (await NextAsync(watch)).Version);
        await client.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("sku-b") }).WithTimeout();
        var second = await NextAsync(watch);
        await client.ChangeQuantityAsync(new ChangeQuantityRequest { CartId = id, ItemId = 1, Quantity = 4 }).WithTimeout();
        var third = await NextAsync(watch);

        Assert.Equal(2UL, second.Version);
        Assert.Equal(["sku-a", "sku-b"], second.Items.Select(i => i.Sku));
        Assert.Equal(3UL, third.Version);
        Assert.Equal(4, third.Items[0].Quantity);
    }

    [Fact]
    public async Task WatchersPerCart_AreBounded()
    {
        await using var node = await RunningNode.StartAsync(["--Node:MaxWatchersPerCart", "2"]);
        var client = new CartService.CartServiceClient(node.Channel);
        var id = Carts.NewId();
        using var first = client.WatchCart(new WatchCartRequest { CartId = id }, deadline: GrpcTestExtensions.Deadline());
        using var second = client.WatchCart(new WatchCartRequest { CartId = id }, deadline: GrpcTestExtensions.Deadline());
        await NextAsync(first);
        await NextAsync(second);

        using var third = client.WatchCart(new WatchCartRequest { CartId = id }, deadline: GrpcTestExtensions.Deadline());
        var ex = await Assert.ThrowsAsync<RpcException>(() => NextAsync(third));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("maximum of 2 watchers", ex.Status.Detail, StringComparison.Ordinal);
        using var other = client.WatchCart(new WatchCartRequest { CartId = Carts.NewId() }, deadline: GrpcTestExtensions.Deadline());
        Assert.Equal(0UL, (await NextAsync(other)).Version);
    }

    [Fact]
    [Trait("Category", "Redis")]
    public async Task WhenTheCartMovesToAnotherNode_TheStreamEndsUnavailable_AndAResubscriptionFollowsIt()
    {
        using var redis = new RedisServerFixture();
        string[] common = [.. TwoNodes.FastPings[2..], "--store", redis.ConnectionString];
        await using var first = await RunningNode.StartAsync(common);
        var viaFirst = new CartService.CartServiceClient(first.Channel);

        // Sixteen carts watched on the only node; a second node then takes about half of them.
        var ids = Enumerable.Range(0, 16).Select(_ => Carts.NewId()).ToArray();
        var watches = new List<AsyncServerStreamingCall<CartState>>();
        foreach (var id in ids)
        {
            await viaFirst.AddItemAsync(new AddItemRequest { CartId = id, Item = Carts.Item("sku-a") }).WithTimeout();
            var watch = viaFirst.WatchCart(new WatchCartRequest { CartId = id }, deadline: GrpcTestExtensions.Deadline());
            Assert.Equal(1UL, (await NextAsync(watch)).Version);
            watches.Add(watch);
        }

        await using var second = await RunningNode.StartAsync([.. common, "--seeds", first.AdvertisedHost]);
        await TwoNodes.WaitForPairAsync(first, second, TimeSpan.FromSeconds(20));
        var moved = Enumerable.Range(0, ids.Length).Where(i => first.Get<ClusterView>().Map.Lookup(ids[i]).Kind == OwnerKind.Remote).ToArray();
        Assert.NotEmpty(moved);

        foreach (var i in moved)
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => NextAsync(watches[i]));
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
            Assert.Contains("resubscribe", ex.Status.Detail, StringComparison.Ordinal);
        }

        // Resubscribed through the node the client already knows: it relays the new owner's stream.
        // While the two views still converge the new owner may refuse too (UNAVAILABLE): a client retries.
        var movedId = ids[moved[0]];
        using var again = await ResubscribeAsync(viaFirst, movedId);
        await new CartService.CartServiceClient(second.Channel).AddItemAsync(new AddItemRequest { CartId = movedId, Item = Carts.Item("sku-b") }).WithTimeout();
        var next = await NextAsync(again);
        Assert.Equal(2UL, next.Version);
        Assert.Equal(["sku-a", "sku-b"], next.Items.Select(item => item.Sku));

        foreach (var watch in watches)
        {
            watch.Dispose();
        }
    }

    /// <summary>
    /// A store failure inside a stream reaches the client with the status a unary call gets, never UNKNOWN:
    /// UNAVAILABLE for an unreachable store, INTERNAL with the fixed text (and nothing of the exception) for the
    /// unexpected.
    /// </summary>
    [Theory]
    [InlineData(false, StatusCode.Unavailable, "store is unavailable")]
    [InlineData(true, StatusCode.Internal, "internal error; the failure was logged on the node")]
    public async Task AWatchWhoseStoreFails_EndsWithTheMappedStatus_NeverUnknown(bool unexpected, StatusCode expected, string detail)
    {
        var store = new FailingStore(unexpected);
        await using var node = await RunningNode.StartAsync(
            ["--store", "memory"],
            customize: b => b.Services.AddSingleton(new StoreHolder(store)));
        var client = new CartService.CartServiceClient(node.Channel);

        using var watch = client.WatchCart(new WatchCartRequest { CartId = Carts.NewId() }, deadline: GrpcTestExtensions.Deadline());
        var ex = await Assert.ThrowsAsync<RpcException>(() => NextAsync(watch));

        Assert.True(expected == ex.StatusCode, $"expected {expected}, got {ex.StatusCode}: {ex.Status.Detail}");
        Assert.Contains(detail, ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", ex.Status.Detail, StringComparison.Ordinal);
        Assert.True(store.Loads > 0);
        // Counted by its status; a stream's duration (how long the client watched) is not a latency and is not timed.
        var metrics = await node.GetMetricsAsync().WaitAsync(TestTimeouts.Default);
        Assert.Contains($"cartactor_requests_total{{rpc=\"WatchCart\",status=\"{expected}\"}} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain($"status=\"{expected}\",le=", metrics, StringComparison.Ordinal);
    }

    private static async Task<AsyncServerStreamingCall<CartState>> ResubscribeAsync(CartService.CartServiceClient client, ulong id)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var call = client.WatchCart(new WatchCartRequest { CartId = id }, deadline: GrpcTestExtensions.Deadline());
            try
            {
                Assert.Equal(1UL, (await NextAsync(call)).Version);
                return call;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && waited.Elapsed < TimeSpan.FromSeconds(15))
            {
                call.Dispose();
                await Task.Delay(200);
            }
        }
    }

    private static async Task<CartState> NextAsync(AsyncServerStreamingCall<CartState> call)
    {
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TestTimeouts.Default), "the stream ended");
        return call.ResponseStream.Current;
    }
}

/// <summary>A store that cannot load a cart: unreachable (CartStoreException), or broken in a way nobody expected.</summary>
internal sealed class FailingStore(bool unexpected) : ICartStore
{
    private int _loads;

    public int Loads => Volatile.Read(ref _loads);

    public string Name => "failing";

    public bool IsShared => false;

    public CartRecord? Load(ulong cartId)
    {
        Interlocked.Increment(ref _loads);
        throw unexpected
            ? new InvalidOperationException("a secret stack of internals")
            : new CartStoreException(CartStoreError.Unavailable, "connection refused");
    }

    public ValueTask<IReadOnlyCollection<ulong>> WriteAsync(IReadOnlyList<CartWrite> writes) =>
        throw new CartStoreException(CartStoreError.Unavailable, "connection refused");

    public void Delete(ulong cartId)
    {
    }

    public Task<long> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => Task.FromResult(0L);

    public void Dispose()
    {
    }
}

using CartActor.Cart.Messages;
using CartActor.Persistence.Redis;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>The runtime writing through a shared Redis: two nodes racing on a cart, corrupt values, eviction and restart.</summary>
[Trait("Category", "Redis")]
public sealed class RedisRuntimeTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task Two_runtimes_that_both_own_a_cart_never_fork_it_and_keep_every_acknowledged_mutation()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        using var storeA = redis.CreateStore(prefix);
        using var storeB = redis.CreateStore(prefix);
        await using var nodeA = RedisRuntime.Create(storeA);
        await using var nodeB = RedisRuntime.Create(storeB);
        const ulong CartId = 1001;
        var acknowledged = new List<string>();

        // Both nodes hold the cart live; A moves it on, so B's copy is stale and B's next write must lose.
        await nodeA.ApplyOnceAsync(CartId, "seed-1");
        (await nodeB.GetAsync(CartId).WithTimeout()).Dispose();
        Assert.True(nodeB.IsActive(CartId));
        await nodeA.ApplyOnceAsync(CartId, "seed-2");
        acknowledged.AddRange(["seed-1", "seed-2"]);

        // B's write loses the compare-and-set: B drops its copy, reloads A's record and re-applies on it. The
        // caller never sees the conflict, and nothing of A's history is lost.
        var reapplied = await nodeB.ApplyOnceAsync(CartId, "stale-b");
        acknowledged.Add("stale-b");
        Assert.Equal(["seed-1", "seed-2", "stale-b"], reapplied.Items.Select(i => i.Sku));
        Assert.Equal(3UL, reapplied.Version);

        // Now both apply at once, each mutation a distinct sku; a batch that lost its compare-and-set
        // more than the bounded number of times comes back ABORTED, and the client retries it with its key.
        const int PerNode = 60;
        var racing = await Task.WhenAll(
            Task.Run(() => ApplyAllAsync(nodeA, CartId, "a", PerNode)),
            Task.Run(() => ApplyAllAsync(nodeB, CartId, "b", PerNode))).WithTimeout();
        foreach (var (skus, _) in racing)
        {
            acknowledged.AddRange(skus);
        }

        var stored = storeA.Load(CartId) ?? throw new InvalidOperationException("the cart is not in Redis");
        var storedSkus = stored.State.Items.Select(item => item.Sku).ToList();
        Assert.Equal(acknowledged.Order(StringComparer.Ordinal), storedSkus.Order(StringComparer.Ordinal));
        Assert.Equal((ulong)storedSkus.Count, stored.State.Version);
        Assert.Equal(storedSkus.Count, storedSkus.Distinct().Count());

        // Each node, once it reloads, serves exactly what Redis holds.
        foreach (var node in new[] { nodeA, nodeB })
        {
            await node.EvictAllAsync().WithTimeout();
            using var lease = await node.GetAsync(CartId).WithTimeout();
            Assert.Equal(stored.State, lease.State.Unpack<CartState>());
        }
    }

    [Fact]
    public async Task A_corrupt_value_fails_that_cart_with_Corrupt_and_every_other_cart_still_works()
    {
        using var store = redis.CreateStore();
        await using var runtime = RedisRuntime.Create(store);
        await redis.Admin.StringSetAsync(store.KeyOf(66), "garbage").WithTimeout();

        var onApply = await Assert.ThrowsAsync<CartRuntimeException>(() => runtime.ApplyOnceAsync(66, "x"));
        var onRead = await Assert.ThrowsAsync<CartRuntimeException>(async () => (await runtime.GetAsync(66).WithTimeout()).Dispose());
        await runtime.ApplyOnceAsync(67, "fine");
        var again = await Assert.ThrowsAsync<CartRuntimeException>(() => runtime.ApplyOnceAsync(66, "y"));

        foreach (var error in new[] { onApply, onRead, again })
        {
            Assert.Equal(CartRequestError.Corrupt, error.Error);
            Assert.False(error.IsRetryable);
            Assert.Contains("cart 66", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(1UL, store.Load(67)!.State.Version);
        Assert.Equal("garbage", (string?)await redis.Admin.StringGetAsync(store.KeyOf(66)).WithTimeout());
    }

    [Fact]
    public async Task An_evicted_cart_and_a_restarted_node_resume_from_redis()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        using (var store = redis.CreateStore(prefix))
        {
            await using var runtime = RedisRuntime.Create(store);
            await runtime.ApplyOnceAsync(5, "one");
            await runtime.EvictAllAsync().WithTimeout();
            Assert.False(runtime.IsActive(5));
            await runtime.ApplyOnceAsync(5, "two");
        }

        using var restartedStore = redis.CreateStore(prefix);
        await using var restarted = RedisRuntime.Create(restartedStore);
        var state = await restarted.ApplyOnceAsync(5, "three");

        Assert.Equal(3UL, state.Version);
        Assert.Equal(["one", "two", "three"], state.Items.Select(item => item.Sku));
    }

    private static async Task<(List<string> Acknowledged, int Conflicts)> ApplyAllAsync(CartRuntime node, ulong cartId, string name, int count)
    {
        var acknowledged = new List<string>(count);
        var conflicts = 0;
        for (var i = 0; i < count; i++)
        {
            var sku = $"{name}-{i}";
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await node.ApplyOnceAsync(cartId, sku);
                    acknowledged.Add(sku);
                    break;
                }
                catch (CartRuntimeException ex) when (ex.Error == CartRequestError.Conflict && attempt < 1000)
                {
                    conflicts++;
                }
            }
        }

        return (acknowledged, conflicts);
    }
}

/// <summary>Runtimes over a Redis store, driven the way a client drives them.</summary>
internal static class RedisRuntime
{
    public static CartRuntime Create(RedisCartStore store) =>
        new(new CartRuntimeOptions { ShardCount = 2 }, store: store);

    /// <summary>
    /// Applies one AddItem whose sku is also its idempotency key (a retry after an unknown outcome is applied
    /// once); returns the state the Apply acknowledged.
    /// </summary>
    public static async Task<CartState> ApplyOnceAsync(this CartRuntime runtime, ulong cartId, string sku)
    {
        using var outcome = await runtime.ApplyAsync(cartId, [RedisRecords.AddItem(sku)], idempotencyKey: sku).WithTimeout();
        var result = Assert.Single(outcome.Result.Mutations);
        Assert.False(result.HasError, $"AddItem {sku} was refused: {result.Error}");
        return CartState.Parser.ParseFrom(outcome.Result.State.Value.ToByteArray());
    }
}

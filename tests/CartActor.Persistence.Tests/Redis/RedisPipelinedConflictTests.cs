using CartActor.Cart.Messages;
using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>
/// A compare-and-set lost by a pipelined write: the write chained on it loses too (it expects the lost
/// write's version and writer tag), and both batches are re-applied in order, once each, on the other node's state.
/// </summary>
[Trait("Category", "Redis")]
public sealed class RedisPipelinedConflictTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private const ulong CartId = 4_242;

    [Fact]
    public async Task Two_pipelined_passes_that_lose_to_another_node_are_reapplied_in_order_exactly_once()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        using var redisA = redis.CreateStore(prefix);
        using var nodeB = redis.CreateStore(prefix);
        var storeA = new GatedStore(redisA);
        var nodeA = new CartRuntime(new CartRuntimeOptions { ShardCount = 1, MaxWritesInFlightPerShard = 4 }, store: storeA);
        try
        {
            await nodeA.ApplyOnceAsync(CartId, "seed");

            // Another node, which also believes it owns the cart, moves it from version 1 to 2 behind A's back.
            var atB = nodeB.Load(CartId)!;
            atB.State.Items.Add(new CartItem { Id = atB.NextItemId++, Sku = "from-b", Quantity = 1, UnitPrice = 1000, LineTotal = 1000, TaxRate = 2500 });
            atB.State.Version = 2;
            Assert.Empty(await nodeB.WriteAsync([new CartWrite(CartId, atB, ExpectedVersion: 1, Writer: 77)]).WithTimeout());

            // A's write 2 (expects 1) loses in Redis at once; A hears of it only when the gate opens. Meanwhile
            // A's next pass goes out chained on it: it expects version 2, which B stored, but not A's tag.
            storeA.Hold(2);
            var first = nodeA.ApplyAsync(CartId, [RedisRecords.AddItem("k1")], "k1").AsTask();
            await storeA.WaitForWritesAsync(2);
            var second = nodeA.ApplyAsync(CartId, [RedisRecords.AddItem("k2")], "k2").AsTask();
            await storeA.WaitForWritesAsync(3);
            Assert.Equal(["seed", "from-b"], nodeB.Load(CartId)!.State.Items.Select(i => i.Sku));
            Assert.False(first.IsCompleted || second.IsCompleted, "an Apply was answered before its write's conflict was known");

            storeA.Release(2);
            var k1 = await first.AnsweredAsync();
            var k2 = await second.AnsweredAsync();

            Assert.False(k1.IsReplay);
            Assert.False(k2.IsReplay);
            Assert.Equal(["seed", "from-b", "k1"], k1.State.Items.Select(i => i.Sku));
            Assert.Equal(3UL, k1.State.Version);
            Assert.Equal(["seed", "from-b", "k1", "k2"], k2.State.Items.Select(i => i.Sku));
            Assert.Equal(4UL, k2.State.Version);

            var stored = nodeB.Load(CartId)!;
            Assert.Equal(k2.State, stored.State);
            Assert.Equal(1, stored.Idempotency.Count(e => e.Key == "k1"));
            Assert.Equal(1, stored.Idempotency.Count(e => e.Key == "k2"));
            Assert.Equal(4, storeA.Writes);
        }
        finally
        {
            storeA.Release(2);
            await nodeA.DisposeAsync().AsTask().WithTimeout();
        }
    }
}

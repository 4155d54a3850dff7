using System.Diagnostics;
using CartActor.Cart.Messages;
using CartActor.Persistence.Redis;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using Google.Protobuf;
using StackExchange.Redis;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>The store suite against one standalone redis-server.</summary>
[Trait("Category", "Redis")]
public sealed class RedisCartStoreOnStandaloneTests(RedisServerFixture redis) : RedisCartStoreTests(redis), IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task A_batch_costs_redis_one_script_call_whatever_its_size_and_still_decides_each_cart()
    {
        using var store = redis.CreateStore();
        var first = Enumerable.Range(1, 16).Select(i => new CartWrite((ulong)i, RedisRecords.Cart((ulong)i, 1, $"sku-{i}"), 0)).ToList();
        Assert.Empty(await store.WriteAsync(first).WithTimeout());

        // Half of the next batch is stale (expects version 0 again): refused one by one, inside the same single call.
        var before = ScriptCalls();
        var second = first.Select(w => new CartWrite(w.CartId, RedisRecords.Cart(w.CartId, 2, "again"), w.CartId % 2 == 0 ? 1UL : 0UL)).ToList();
        var conflicts = await store.WriteAsync(second).WithTimeout();

        Assert.Equal(1, ScriptCalls() - before);
        Assert.Equal(first.Where(w => w.CartId % 2 == 1).Select(w => w.CartId), conflicts.Order());
        Assert.All(second, w => Assert.Equal(w.CartId % 2 == 0 ? 2UL : 1UL, store.Load(w.CartId)!.State.Version));
    }

    /// <summary>EVAL and EVALSHA calls the server has run (INFO commandstats), from outside the store's connection.</summary>
    private long ScriptCalls()
    {
        var stats = RespCommand.Send(redis.Port, "INFO", "commandstats");
        return stats.Split("\r\n")
            .Where(line => line.StartsWith("cmdstat_eval:", StringComparison.Ordinal) || line.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal))
            .Sum(line => long.Parse(line.Split(':')[1].Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>
/// The same suite against a Redis Cluster of three masters: a shard's batch spans hash slots (every cart is
/// its own key), the client must route each script to its slot's master, and the compare-and-set holds there too.
/// </summary>
[Trait("Category", "Redis")]
public sealed class RedisCartStoreOnClusterTests(RedisClusterFixture redis) : RedisCartStoreTests(redis), IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task A_batch_lands_on_every_master_of_the_cluster()
    {
        using var store = redis.CreateStore();
        var writes = Enumerable.Range(1, 64).Select(i => new CartWrite((ulong)i, RedisRecords.Cart((ulong)i, 1, $"sku-{i}"), 0)).ToList();

        Assert.Empty(await store.WriteAsync(writes).WithTimeout());

        // 64 keys over 16,384 slots split three ways: every master holds some of them (a master answers MOVED
        // for a key outside its slots), and each reads back through the store.
        var mastersHolding = redis.Ports.Count(port => writes.Any(w => RespCommand.Send(port, "EXISTS", (string)store.KeyOf(w.CartId)!) == ":1"));
        Assert.Equal(3, mastersHolding);
        Assert.All(writes, w => Assert.Equal(w.Record, store.Load(w.CartId)));
    }
}

/// <summary>The store on its own against a real Redis: round trips, batches, compare-and-set, corrupt values.</summary>
public abstract class RedisCartStoreTests(IRedisTopology redis)
{
    [Fact]
    public async Task A_written_record_loads_back_equal_and_an_absent_cart_loads_as_null()
    {
        using var store = redis.CreateStore();
        Assert.Equal("redis", store.Name);
        Assert.True(store.IsShared);
        Assert.Null(store.Load(1));

        var record = RedisRecords.Cart(1, version: 1, "sku-a");
        var conflicts = await store.WriteAsync([new CartWrite(1, record, ExpectedVersion: 0)]).WithTimeout();

        Assert.Empty(conflicts);
        Assert.Equal(record, store.Load(1));
        Assert.Null(store.Load(2));
    }

    [Fact]
    public async Task Every_write_sets_the_retention_as_the_keys_expiry_so_the_sweep_has_nothing_to_do()
    {
        using var store = RedisCartStore.Connect(new RedisStoreOptions
        {
            ConnectionString = redis.ConnectionString,
            KeyPrefix = RedisServerFixture.UniquePrefix(),
            Retention = TimeSpan.FromHours(2),
        });
        await store.WriteAsync([new CartWrite(7, RedisRecords.Cart(7, 1, "a"), 0)]).WithTimeout();
        await redis.Admin.KeyExpireAsync(store.KeyOf(7), TimeSpan.FromMinutes(1)).WithTimeout();

        await store.WriteAsync([new CartWrite(7, RedisRecords.Cart(7, 2, "a", "b"), 1)]).WithTimeout();

        var ttl = await redis.Admin.KeyTimeToLiveAsync(store.KeyOf(7)).WithTimeout();
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromHours(2) - TimeSpan.FromMinutes(1), TimeSpan.FromHours(2));
        Assert.Equal(0, await store.DeleteOlderThanAsync(DateTimeOffset.UtcNow.AddYears(1), CancellationToken.None).WithTimeout());
        Assert.NotNull(store.Load(7));
    }

    [Fact]
    public async Task A_batch_of_64_carts_is_written_in_one_call_and_each_reads_back()
    {
        using var store = redis.CreateStore();
        var first = Enumerable.Range(1, 64).Select(i => new CartWrite((ulong)i, RedisRecords.Cart((ulong)i, 1, $"sku-{i}"), 0)).ToList();
        Assert.Empty(await store.WriteAsync(first).WithTimeout());

        var second = first.Select(w => new CartWrite(w.CartId, RedisRecords.Cart(w.CartId, 2, $"sku-{w.CartId}", "extra"), 1)).ToList();
        Assert.Empty(await store.WriteAsync(second).WithTimeout());

        foreach (var write in second)
        {
            Assert.Equal(write.Record, store.Load(write.CartId));
        }
    }

    [Fact]
    public async Task A_batch_returns_exactly_the_ids_whose_version_moved_on_and_writes_all_the_others()
    {
        using var store = redis.CreateStore();
        await store.WriteAsync([new CartWrite(1, RedisRecords.Cart(1, 3, "x"), 0), new CartWrite(2, RedisRecords.Cart(2, 1, "x"), 0)]).WithTimeout();

        var conflicts = await store.WriteAsync(
        [
            new CartWrite(1, RedisRecords.Cart(1, 4, "stale"), 2),    // stored 3: stale
            new CartWrite(2, RedisRecords.Cart(2, 2, "ok"), 1),       // stored 1: fine
            new CartWrite(3, RedisRecords.Cart(3, 1, "new"), 0),      // absent: fine
            new CartWrite(4, RedisRecords.Cart(4, 2, "ghost"), 1),    // absent but expected 1: refused
        ]).WithTimeout();

        Assert.Equal([1UL, 4UL], conflicts.Order());
        Assert.Equal(3UL, store.Load(1)!.State.Version);
        Assert.Equal(2UL, store.Load(2)!.State.Version);
        Assert.Equal(1UL, store.Load(3)!.State.Version);
        Assert.Null(store.Load(4));

        // "Expected 0" means "the cart must be new": it never overwrites an existing record.
        Assert.Equal([3UL], await store.WriteAsync([new CartWrite(3, RedisRecords.Cart(3, 1, "again"), 0)]).WithTimeout());
        Assert.Equal("new", store.Load(3)!.State.Items[0].Sku);
    }

    [Fact]
    public async Task Two_writers_with_the_same_expected_version_never_both_win()
    {
        // Two stores = two nodes, each with its own connection, racing on the same carts round after round.
        var prefix = RedisServerFixture.UniquePrefix();
        using var nodeA = redis.CreateStore(prefix);
        using var nodeB = redis.CreateStore(prefix);
        const int Rounds = 200;
        const ulong CartId = 42;

        for (ulong version = 0; version < Rounds; version++)
        {
            var fromA = RedisRecords.Cart(CartId, version + 1, $"a-{version}");
            var fromB = RedisRecords.Cart(CartId, version + 1, $"b-{version}");
            using var start = new Barrier(2);
            var writeA = Task.Run(async () => { start.SignalAndWait(); return await nodeA.WriteAsync([new CartWrite(CartId, fromA, version)]); });
            var writeB = Task.Run(async () => { start.SignalAndWait(); return await nodeB.WriteAsync([new CartWrite(CartId, fromB, version)]); });
            var conflictsA = await writeA.WithTimeout();
            var conflictsB = await writeB.WithTimeout();

            Assert.True(conflictsA.Count + conflictsB.Count == 1, $"round {version}: A refused {conflictsA.Count}, B refused {conflictsB.Count}; exactly one must lose");
            var winner = conflictsA.Count == 0 ? fromA : fromB;
            Assert.Equal(winner, nodeA.Load(CartId));
            Assert.Equal(winner, nodeB.Load(CartId));
        }
    }

    [Fact]
    public async Task A_pipelined_write_chained_on_its_writers_lost_write_loses_too_even_when_the_version_matches()
    {
        // Writer A (this node) and writer B (another node) both loaded cart 9 at version 1. A sends two pipelined
        // writes: v2 expecting 1, then v3 expecting its own v2. B's v2 lands first, so A's first write loses; its
        // second expects version 2, which is exactly what B stored: only the writer tag shows it is not A's v2.
        const ulong WriterA = 0xA, WriterB = 0xB;
        var prefix = RedisServerFixture.UniquePrefix();
        using var nodeA = redis.CreateStore(prefix);
        using var nodeB = redis.CreateStore(prefix);
        Assert.Empty(await nodeA.WriteAsync([new CartWrite(9, RedisRecords.Cart(9, 1, "a"), 0, WriterA)]).WithTimeout());
        Assert.Empty(await nodeB.WriteAsync([new CartWrite(9, RedisRecords.Cart(9, 2, "a", "from-b"), 1, WriterB)]).WithTimeout());

        var first = nodeA.WriteAsync([new CartWrite(9, RedisRecords.Cart(9, 2, "a", "from-a"), 1, WriterA)]);
        var chained = nodeA.WriteAsync([new CartWrite(9, RedisRecords.Cart(9, 3, "a", "from-a", "again"), 2, WriterA, ExpectedWriter: WriterA)]);

        Assert.Equal([9UL], await first.WithTimeout());
        Assert.Equal([9UL], await chained.WithTimeout());
        Assert.Equal(RedisRecords.Cart(9, 2, "a", "from-b"), nodeA.Load(9));

        // The chain itself works: a write expecting A's own stored version and tag lands.
        Assert.Empty(await nodeA.WriteAsync([new CartWrite(9, RedisRecords.Cart(9, 3, "a", "from-b", "a-again"), 2, WriterA, ExpectedWriter: WriterB)]).WithTimeout());
        Assert.Empty(await nodeA.WriteAsync([new CartWrite(9, RedisRecords.Cart(9, 4, "a", "from-b", "a-again", "chained"), 3, WriterA, ExpectedWriter: WriterA)]).WithTimeout());
        Assert.Equal(4UL, nodeB.Load(9)!.State.Version);
    }

    [Fact]
    public async Task A_value_that_is_not_a_cart_record_fails_that_cart_only_as_corrupt()
    {
        using var store = redis.CreateStore();
        var admin = redis.Admin;
        await store.WriteAsync([new CartWrite(1, RedisRecords.Cart(1, 1, "healthy"), 0)]).WithTimeout();

        await admin.StringSetAsync(store.KeyOf(2), "garbage").WithTimeout();
        await admin.HashSetAsync(store.KeyOf(3), [new HashEntry("v", 1), new HashEntry("r", new byte[] { 0xFF, 0xFF, 0xFF, 0x0F })]).WithTimeout();
        await admin.HashSetAsync(store.KeyOf(4), [new HashEntry("v", 9), new HashEntry("r", RedisRecords.Cart(4, 1, "x").ToByteArray())]).WithTimeout();
        await admin.HashSetAsync(store.KeyOf(5), [new HashEntry("r", RedisRecords.Cart(5, 1, "x").ToByteArray())]).WithTimeout();

        foreach (var corrupt in new ulong[] { 2, 3, 4, 5 })
        {
            var error = Assert.Throws<CartStoreException>(() => store.Load(corrupt));
            Assert.Equal(CartStoreError.Corrupt, error.Error);
            Assert.Contains($"cart {corrupt}", error.Message, StringComparison.Ordinal);
        }

        // A write never papers over the damage: it is refused like a conflict and the value is left for an operator.
        var conflicts = await store.WriteAsync([new CartWrite(2, RedisRecords.Cart(2, 1, "x"), 0), new CartWrite(1, RedisRecords.Cart(1, 2, "healthy", "more"), 1)]).WithTimeout();
        Assert.Equal([2UL], conflicts);
        Assert.Equal("garbage", (string?)await admin.StringGetAsync(store.KeyOf(2)).WithTimeout());
        Assert.Equal(2UL, store.Load(1)!.State.Version);
    }

    [Fact]
    public async Task A_load_right_where_a_write_resumes_does_not_wait_on_the_clients_own_reader()
    {
        // A shard resumes after WriteAsync and may load the next cart synchronously at once: if that continuation
        // ran on the client's socket reader, the load would wait on itself until the sync timeout.
        using var store = redis.CreateStore();
        await Task.Run(async () =>
        {
            for (ulong id = 1; id <= 20; id++)
            {
                await store.WriteAsync([new CartWrite(id, RedisRecords.Cart(id, 1, "x"), 0)]);
                var clock = Stopwatch.StartNew();
                Assert.NotNull(store.Load(id));
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"a load after a write took {clock.Elapsed.TotalMilliseconds:F0} ms");
            }
        }).WithTimeout();
    }

    [Fact]
    public async Task Delete_removes_the_carts_key()
    {
        using var store = redis.CreateStore();
        await store.WriteAsync([new CartWrite(9, RedisRecords.Cart(9, 1, "x"), 0)]).WithTimeout();

        store.Delete(9);
        store.Delete(10);

        Assert.Null(store.Load(9));
        Assert.False(await redis.Admin.KeyExistsAsync(store.KeyOf(9)).WithTimeout());
    }

    [Fact]
    public async Task Both_a_redis_uri_and_a_plain_host_port_connect()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        using var viaUri = redis.CreateStore(prefix, redis.ConnectionString);
        using var viaHostPort = redis.CreateStore(prefix, redis.Endpoints);

        await viaUri.WriteAsync([new CartWrite(5, RedisRecords.Cart(5, 1, "x"), 0)]).WithTimeout();

        Assert.Equal(1UL, viaHostPort.Load(5)!.State.Version);
    }
}

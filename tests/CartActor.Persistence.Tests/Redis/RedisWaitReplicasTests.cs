using System.Diagnostics;
using System.Globalization;
using CartActor.Persistence.Redis;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>Redis:WaitReplicas: a batch is confirmed only once that many replicas have it.</summary>
[Trait("Category", "Redis")]
public sealed class RedisWaitReplicasTests
{
    [Fact]
    public async Task WithoutEnoughReplicas_AWriteIsNotConfirmed_AndOnceAReplicaFollows_ItIs()
    {
        using var primary = new RedisServerFixture();
        using var replica = new RedisServerFixture();
        using var store = RedisCartStore.Connect(new RedisStoreOptions
        {
            ConnectionString = primary.ConnectionString,
            KeyPrefix = RedisServerFixture.UniquePrefix(),
            Timeout = TimeSpan.FromSeconds(2),
            WaitReplicas = 1,
        });

        var refused = await Assert.ThrowsAsync<CartStoreException>(async () =>
            await store.WriteAsync([new CartWrite(1, RedisRecords.Cart(1, 1, "a"), 0)]).AsTask().WithTimeout());
        Assert.Equal(CartStoreError.Unavailable, refused.Error);
        Assert.Contains("replicas", refused.Message, StringComparison.Ordinal);

        // The write itself reached the primary (its outcome was unknown to a failover): a load confirms it
        // once a replica has caught up, and later writes are confirmed too.
        Assert.Equal("+OK", RespCommand.Send(replica.Port, "REPLICAOF", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture)));
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                Assert.Equal(1UL, store.Load(1)!.State.Version);
                break;
            }
            catch (CartStoreException) when (waited.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(200);
            }
        }

        Assert.Empty(await store.WriteAsync([new CartWrite(1, RedisRecords.Cart(1, 2, "a", "b"), 1)]).AsTask().WithTimeout());
        Assert.Equal(2UL, store.Load(1)!.State.Version);
    }
}

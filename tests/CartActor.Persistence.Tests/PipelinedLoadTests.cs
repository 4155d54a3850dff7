using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using static CartActor.Persistence.Tests.Support.RuntimeDriving;

namespace CartActor.Persistence.Tests;

/// <summary>
/// perfmatrix's shape in process: 64 callers over 8 carts on 4 shards, each awaiting its Apply before sending
/// the next, through each store with several writes in flight per shard. A landing that failed to wake its
/// shard would stall that shard's callers for good (nothing else arrives to run it): every call must finish,
/// and every cart must hold exactly the Applies that were answered.
/// </summary>
[Trait("Category", "Redis")]
public sealed class PipelinedLoadTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IDisposable
{
    private const int Carts = 8, CallersPerCart = 8, AppliesPerCaller = 40;

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(StoreKinds.RocksDbFsync)]
    [InlineData(StoreKinds.RocksDbOs)]
    [InlineData(StoreKinds.Redis)]
    public async Task Closed_loop_callers_all_finish_and_every_answered_Apply_is_stored(string kind)
    {
        using var store = StoreKinds.Open(kind, _directory.Path, redis);
        var runtime = new CartRuntime(new CartRuntimeOptions { ShardCount = 4, MaxWritesInFlightPerShard = 4 }, store: store);
        try
        {
            // Loaded one at a time first: a load is a synchronous store read, and 64 of them at once on a starved
            // pool are a test of the Redis client's timeout, not of the pipeline.
            for (var cart = 0; cart < Carts; cart++)
            {
                await runtime.ApplyAsync(500UL + (ulong)cart, null, AddItem("mug"));
            }

            var callers = Enumerable.Range(0, Carts * CallersPerCart).Select(caller => Task.Run(async () =>
            {
                var cartId = 500UL + (ulong)(caller % Carts);
                for (var i = 0; i < AppliesPerCaller; i++)
                {
                    await runtime.ApplyAsync(cartId, null, AddItem("mug"));
                }
            }));
            await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(90));

            for (var cart = 0; cart < Carts; cart++)
            {
                var stored = store.Load(500UL + (ulong)cart)!.State;
                Assert.Equal((ulong)(1 + (CallersPerCart * AppliesPerCaller)), stored.Version);
                Assert.Equal(1 + (CallersPerCart * AppliesPerCaller), Assert.Single(stored.Items).Quantity);
            }
        }
        finally
        {
            await runtime.DisposeWithTimeoutAsync();
        }
    }
}

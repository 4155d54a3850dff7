using System.Diagnostics.Metrics;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>What operators see of the store: each batch's latency and size, and every lost compare-and-set.</summary>
[Trait("Category", "Redis")]
public sealed class RedisStoreMetricsTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    [Fact]
    public async Task AStaleWriteIsCountedAsAConflictAndEveryBatchIsTimedAndSized()
    {
        var prefix = RedisServerFixture.UniquePrefix();
        using var storeA = redis.CreateStore(prefix);
        using var storeB = redis.CreateStore(prefix);
        await using var nodeA = RedisRuntime.Create(storeA);
        await using var nodeB = RedisRuntime.Create(storeB);
        var seen = new Dictionary<string, double>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, nodeB.Metrics.Meter) && instrument.Name.StartsWith("cartactor_store_", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var result = string.Empty;
            foreach (var tag in tags)
            {
                Assert.True(tag.Key != "store" || (string?)tag.Value == "redis", $"store tag {tag.Value}");
                result = tag.Key == "result" ? $"{{{tag.Value}}}" : result;
            }

            lock (seen)
            {
                var key = instrument.Name + result;
                seen[key] = seen.GetValueOrDefault(key) + value;
                seen[key + ":n"] = seen.GetValueOrDefault(key + ":n") + 1;
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        listener.Start();

        // B holds the cart, A moves it on: B's next write loses its compare-and-set, and B re-applies on a reload.
        const ulong CartId = 2001;
        await nodeA.ApplyOnceAsync(CartId, "seed-1");
        (await nodeB.GetAsync(CartId).WithTimeout()).Dispose();
        await nodeA.ApplyOnceAsync(CartId, "seed-2");
        await nodeB.ApplyOnceAsync(CartId, "stale-b");

        lock (seen)
        {
            Assert.Equal(1, seen.GetValueOrDefault("cartactor_store_conflicts"));
            // Two writes by B: the one that lost, and the re-applied one that won; one cart each.
            Assert.Equal(2, seen.GetValueOrDefault("cartactor_store_write_duration_seconds{ok}:n"));
            Assert.Equal(2, seen.GetValueOrDefault("cartactor_store_write_batch_carts"));
            Assert.Equal(2, seen.GetValueOrDefault("cartactor_store_write_batch_carts:n"));
            Assert.InRange(seen.GetValueOrDefault("cartactor_store_write_duration_seconds{ok}"), double.Epsilon, 30);
        }
    }
}

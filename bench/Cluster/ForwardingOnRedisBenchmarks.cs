using CartActor.Tests.Shared.Redis;

namespace CartActor.Bench.Cluster;

/// <summary>
/// <see cref="ForwardingBenchmarks"/> on the store a cluster runs on: both nodes share one real redis-server
/// (a child process on a loopback port, started as the tests start it), so every Apply, direct or forwarded,
/// is acknowledged only after the owner's compare-and-set write to Redis. Never rename these once recorded.
/// </summary>
public class ForwardingOnRedisBenchmarks : ForwardingBenchmarks
{
    private RedisServerFixture? _redis;

    protected override string[] StartStore()
    {
        _redis = new RedisServerFixture();
        return ["--store", _redis.ConnectionString];
    }

    protected override void StopStore() => _redis?.Dispose();
}

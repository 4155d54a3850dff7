using Microsoft.Extensions.Time.Testing;

namespace CartActor.Core.Tests.Support;

/// <summary>
/// Runtimes for unit tests: a fake clock by default, so the idle-sweep timer never fires unless a test
/// advances time, and two shards, so routing is exercised without needing many cores.
/// </summary>
internal static class TestRuntime
{
    public static CartRuntime Create(
        Action<CartRuntimeOptions>? configure = null,
        TimeProvider? time = null,
        ICartLifecycleObserver? observer = null)
    {
        var options = new CartRuntimeOptions { ShardCount = 2 };
        configure?.Invoke(options);
        return new CartRuntime(options, time ?? new FakeTimeProvider(), observer);
    }
}

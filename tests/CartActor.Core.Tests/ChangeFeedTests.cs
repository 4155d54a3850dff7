using CartActor.Grains;

namespace CartActor.Core.Tests;

/// <summary>The change feed behind WatchCart: wake-ups coalesce (a slow watcher skips to the latest), watchers are bounded.</summary>
public sealed class ChangeFeedTests
{
    [Fact]
    public async Task ManyChanges_LeaveOneWakeUp_NotOnePerVersion()
    {
        var feed = new CartChangeFeed();
        await using var runtime = new CartRuntime(new CartRuntimeOptions { ShardCount = 1 }, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(), changes: feed);
        using var subscription = feed.TrySubscribe(7, out _)!;

        for (var i = 0; i < 100; i++)
        {
            await runtime.ApplyOkAsync(7, AddItem("sku", quantity: 1));
        }

        Assert.Equal(1, subscription.Pending);
        Assert.True(await subscription.WaitAsync(TimeSpan.Zero, CancellationToken.None));
        Assert.False(await subscription.WaitAsync(TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public async Task AChangeToAnotherCart_DoesNotWakeTheWatcher()
    {
        var feed = new CartChangeFeed();
        await using var runtime = new CartRuntime(new CartRuntimeOptions { ShardCount = 1 }, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(), changes: feed);
        using var subscription = feed.TrySubscribe(7, out _)!;

        await runtime.ApplyOkAsync(8, AddItem("sku"));

        Assert.Equal(0, subscription.Pending);
    }

    [Fact]
    public void Bounds_PerCartAndPerNode_AreKept_AndFreedOnDispose()
    {
        var feed = new CartChangeFeed(maxPerCart: 1, maxPerNode: 2);
        var a = feed.TrySubscribe(1, out _);
        Assert.NotNull(a);
        Assert.Null(feed.TrySubscribe(1, out var perCart));
        Assert.Contains("maximum of 1 watchers", perCart, StringComparison.Ordinal);
        var b = feed.TrySubscribe(2, out _);
        Assert.NotNull(b);
        Assert.Null(feed.TrySubscribe(3, out var perNode));
        Assert.Contains("maximum of 2 watchers", perNode, StringComparison.Ordinal);

        a!.Dispose();
        Assert.NotNull(feed.TrySubscribe(1, out _));
        Assert.Equal(2, feed.Count);
    }
}

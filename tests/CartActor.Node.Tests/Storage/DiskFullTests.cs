using System.Diagnostics;
using System.Net;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Storage;
using Grpc.Core;

namespace CartActor.Node.Tests.Storage;

/// <summary>
/// A full disk under the embedded store, as an operator meets it: a real node process on a real port, its data
/// directory on a small tmpfs that a ballast file fills. Writes fail fast and retryably while reads go on, the
/// node says not ready with the cause and logs one warning; once the ballast is gone writes resume by themselves,
/// without a restart, and nothing acknowledged is lost (checked again after a crash and restart).
/// </summary>
[Trait("Category", "Tmpfs")]
public sealed class DiskFullTests
{
    private const int StoreWritesFailingEventId = 13;
    private const int StoreWritesResumedEventId = 14;
    private const string NoSpace = "No space left on device";

    [Fact]
    public async Task WritesResumeByThemselvesAfterAFullDiskIsFreedAndNothingAcknowledgedIsLost()
    {
        using var disk = TmpfsMount.Create(megabytes: 8);
        var dataDir = Path.Combine(disk.Path, "data");
        var acknowledged = new Dictionary<ulong, CartState>();
        using (var node = await LoggedNodeProcess.StartAsync("--data-dir", dataDir))
        {
            await WaitForReadyzAsync(node, HttpStatusCode.OK, "ready");
            var before = Carts.NewId();
            acknowledged[before] = await ApplyAsync(node, before, "before-1");
            acknowledged[before] = await ApplyAsync(node, before, "before-2");

            disk.Fill("ballast");

            // Apply until the store refuses: the first append that needs a new block fails.
            var failure = await ApplyUntilRefusedAsync(node, acknowledged);
            Assert.Contains(NoSpace, failure.Status.Detail, StringComparison.Ordinal);

            // Later writes fail at once (no waiting on the disk), retryable, naming the cause; reads go on.
            var fastFail = Stopwatch.StartNew();
            var refused = await GrpcTestExtensions.AssertStatusAsync(StatusCode.Unavailable, node.Client.ApplyAsync(Carts.Apply(Carts.NewId(), Carts.Item("during")), deadline: GrpcTestExtensions.Deadline()));
            Assert.True(fastFail.Elapsed < TimeSpan.FromSeconds(2), $"a write during the episode took {fastFail.Elapsed}");
            Assert.Contains(NoSpace, refused.Status.Detail, StringComparison.Ordinal);
            Assert.Equal(acknowledged[before], Carts.State(await node.Client.GetAsync(new GetRequest { Id = before }).WithTimeout()));

            var readyz = await WaitForReadyzAsync(node, HttpStatusCode.ServiceUnavailable, "store unavailable");
            Assert.Contains(NoSpace, readyz, StringComparison.Ordinal);

            // Several recovery attempts run against the still-full disk: still one warning for the episode.
            await Task.Delay(TimeSpan.FromSeconds(4));
            await GrpcTestExtensions.AssertStatusAsync(StatusCode.Unavailable, node.Client.ApplyAsync(Carts.Apply(Carts.NewId(), Carts.Item("still-full")), deadline: GrpcTestExtensions.Deadline()));
            var warning = Assert.Single(node.Log.Messages(StoreWritesFailingEventId));
            Assert.Contains(NoSpace, warning, StringComparison.Ordinal);
            Assert.Empty(node.Log.Messages(StoreWritesResumedEventId));

            File.Delete(Path.Combine(disk.Path, "ballast"));
            var freed = Stopwatch.StartNew();
            var after = Carts.NewId();
            acknowledged[after] = await ApplyWhenWritableAsync(node, after, "after");
            Assert.True(freed.Elapsed < TimeSpan.FromSeconds(10), $"writes resumed {freed.Elapsed} after the disk was freed");
            await WaitForReadyzAsync(node, HttpStatusCode.OK, "ready");

            Assert.Single(await node.Log.WaitForMessagesAsync(StoreWritesResumedEventId));
            Assert.Single(node.Log.Messages(StoreWritesFailingEventId));
            acknowledged[before] = await ApplyAsync(node, before, "before-3");

            // A crash (no shutdown, no flush) right after: everything acknowledged is on the disk.
            node.Kill();
        }

        using var restarted = await LoggedNodeProcess.StartAsync("--data-dir", dataDir);
        foreach (var (id, state) in acknowledged)
        {
            Assert.Equal(state, Carts.State(await restarted.Client.GetAsync(new GetRequest { Id = id }).WithTimeout()));
        }
    }

    private static async Task<CartState> ApplyAsync(LoggedNodeProcess node, ulong id, string sku) =>
        Carts.State(await node.Client.ApplyAsync(Carts.Apply(id, Carts.Item(sku)), deadline: GrpcTestExtensions.Deadline()).WithTimeout());

    private static async Task<RpcException> ApplyUntilRefusedAsync(LoggedNodeProcess node, Dictionary<ulong, CartState> acknowledged)
    {
        var id = Carts.NewId();
        for (var i = 0; i < 5_000; i++)
        {
            if (i % 100 == 99)
            {
                id = Carts.NewId();
            }

            try
            {
                acknowledged[id] = await ApplyAsync(node, id, $"fill-{i}");
            }
            catch (RpcException ex)
            {
                Assert.True(ex.StatusCode == StatusCode.Unavailable, $"expected Unavailable, got {ex.StatusCode}: {ex.Status.Detail}");
                return ex;
            }
        }

        throw new Xunit.Sdk.XunitException("5,000 Applies on a full disk all succeeded");
    }

    private static async Task<CartState> ApplyWhenWritableAsync(LoggedNodeProcess node, ulong id, string sku)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await ApplyAsync(node, id, sku);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && waited.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task<string> WaitForReadyzAsync(LoggedNodeProcess node, HttpStatusCode status, string bodyPrefix)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            using var response = await node.Http.GetAsync("/readyz").WithTimeout();
            var text = await response.Content.ReadAsStringAsync().WithTimeout();
            if (response.StatusCode == status && text.StartsWith(bodyPrefix, StringComparison.Ordinal))
            {
                return text;
            }

            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"/readyz still {(int)response.StatusCode} '{text}', waiting for {(int)status} '{bodyPrefix}...'; the node's log:\n{node.Log.Text()}");
            await Task.Delay(100);
        }
    }
}

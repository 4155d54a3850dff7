using System.Collections.Concurrent;

namespace CartActor.Core.Tests;

/// <summary>
/// One writer per cart however many callers: concurrent Applies on one cart lose nothing and are totally
/// ordered, reads running alongside always see a whole version, and many carts spread over every shard.
/// </summary>
public sealed class MailboxConcurrencyTests
{
    private const int Callers = 8;
    private const int AppliesPerCaller = 200;

    [Fact]
    public async Task ManyCallersOnOneCart_LoseNoUpdate()
    {
        const ulong cartId = 1001;
        await using var runtime = TestRuntime.Create(o => o.ShardCount = 1);
        var versionsSeen = new ConcurrentBag<ulong>();

        await RunConcurrentlyAsync(Callers, async caller =>
        {
            for (var i = 0; i < AppliesPerCaller; i++)
            {
                using var outcome = await runtime.ApplyAsync(cartId, [AddItem($"sku-{caller}")]).WithTimeout();
                Assert.False(outcome.Result.Mutations[0].HasError, outcome.Result.Mutations[0].Error);
                versionsSeen.Add(outcome.Result.State.Unpack<CartState>().Version);
            }
        });

        var state = runtime.ReadState(cartId);
        Assert.Equal((ulong)(Callers * AppliesPerCaller), state.Version);
        Assert.Equal(Callers, state.Items.Count);
        Assert.All(state.Items, line => Assert.Equal(AppliesPerCaller, line.Quantity));
        Assert.Equal(Enumerable.Range(1, Callers).Select(i => (uint)i), state.Items.Select(i => i.Id).Order());

        // Every Apply saw the state right after its own batch: one writer, so each version was returned exactly once.
        Assert.Equal(Enumerable.Range(1, Callers * AppliesPerCaller).Select(v => (ulong)v), versionsSeen.Order());
    }

    [Fact]
    public async Task ManyCallersChangingOneLine_AreTotallyOrdered()
    {
        const ulong cartId = 1002;
        const int steps = 100;
        await using var runtime = TestRuntime.Create(o => o.ShardCount = 1);
        await runtime.ApplyOkAsync(cartId, AddItem("shared", quantity: 1));

        // Every caller sets quantities no other caller uses, so each Apply is a change and each version names its writer.
        var quantityAtVersion = new ConcurrentDictionary<ulong, int>();
        await RunConcurrentlyAsync(Callers, async caller =>
        {
            for (var step = 0; step < steps; step++)
            {
                var quantity = 2 + (caller * steps) + step;
                using var outcome = await runtime.ApplyAsync(cartId, [ChangeQuantity(1, quantity), AddItem($"sku-{caller}")]).WithTimeout();
                var state = outcome.Result.State.Unpack<CartState>();
                Assert.Equal(quantity, state.Items[0].Quantity);
                Assert.True(quantityAtVersion.TryAdd(state.Version, quantity), $"version {state.Version} returned twice");
            }
        });

        var final = runtime.ReadState(cartId);
        Assert.Equal(1UL + (2UL * Callers * steps), final.Version);
        Assert.Equal(quantityAtVersion[final.Version], final.Items[0].Quantity);
        Assert.All(final.Items.Skip(1), line => Assert.Equal(steps, line.Quantity));
    }

    [Fact]
    public async Task ReadsDuringConcurrentApplies_AlwaysSeeAWholeVersion()
    {
        const ulong cartId = 1003;
        await using var runtime = TestRuntime.Create(o => o.ShardCount = 1);
        await runtime.ApplyOkAsync(cartId, AddItem("counter", quantity: 1));
        using var writersDone = new CancellationTokenSource();

        var writers = RunConcurrentlyAsync(4, async _ =>
        {
            for (var i = 0; i < 150; i++)
            {
                using var outcome = await runtime.ApplyAsync(cartId, [AddItem($"line-{i % 100}")]).WithTimeout();
            }
        });
        // Readers spin, so they get threads of their own rather than starving the pool the writers resume on.
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(
            () =>
            {
                ulong lastVersion = 0;
                var reads = 0;
                while (!writersDone.IsCancellationRequested || reads < 100)
                {
                    using var lease = runtime.Get(cartId);
                    var state = lease.State.Unpack<CartState>();
                    // Every Apply adds exactly one unit, so a whole version holds exactly version units.
                    Assert.Equal((long)state.Version, state.Items.Sum(i => (long)i.Quantity));
                    Assert.Equal(lease.Version, state.Version);
                    Assert.True(state.Version >= lastVersion, "a reader went back in time");
                    lastVersion = state.Version;
                    reads++;
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();

        await writers.WithTimeout();
        await writersDone.CancelAsync().WithTimeout();
        await Task.WhenAll(readers).WithTimeout();
        Assert.Equal(601UL, runtime.ReadState(cartId).Version);
    }

    [Fact]
    public async Task ManyCarts_SpreadOverEveryShard_AndEachEndsExact()
    {
        const int shardCount = 8;
        const int cartsPerShard = 4;
        const int appliesPerCart = 25;
        await using var runtime = TestRuntime.Create(o => o.ShardCount = shardCount);
        var cartIds = PickCartsCoveringEveryShard(runtime, cartsPerShard);

        await RunConcurrentlyAsync(Callers, async caller =>
        {
            for (var round = 0; round < appliesPerCart; round++)
            {
                foreach (var cartId in cartIds.Where(id => (int)(id % Callers) == caller))
                {
                    using var outcome = await runtime.ApplyAsync(cartId, [AddItem("sku", quantity: 1), AddItem($"round-{round}")]).WithTimeout();
                }
            }
        });

        Assert.Equal(cartIds.Count, runtime.ActiveCarts);
        Assert.Equal(cartIds.Order(), runtime.GetLocalCartIds().Order());
        var carts = cartIds.GroupBy(id => runtime.ShardOf(id)).ToList();
        Assert.Equal(shardCount, carts.Count);
        Assert.All(carts, shard => Assert.Equal(shard.Count(), shard.Key.ActiveCount));
        Assert.All(cartIds, cartId =>
        {
            var state = runtime.ReadState(cartId);
            Assert.Equal((ulong)(2 * appliesPerCart), state.Version);
            Assert.Equal(appliesPerCart, state.Items[0].Quantity);
            Assert.Equal(1 + appliesPerCart, state.Items.Count);
        });
    }

    [Fact]
    public async Task ShardOf_SpreadsSequentialIdsEvenlyAndStably()
    {
        const int shardCount = 16;
        await using var first = TestRuntime.Create(o => o.ShardCount = shardCount);
        await using var second = TestRuntime.Create(o => o.ShardCount = shardCount);
        var firstLabels = LabelShards(first, 16_000);
        var secondLabels = LabelShards(second, 16_000);

        // Same id, same shard, in every runtime of this build (shard choice is a pure function of the id).
        Assert.Equal(firstLabels, secondLabels);
        var counts = firstLabels.CountBy(label => label).Select(pair => pair.Value).ToList();
        Assert.Equal(shardCount, counts.Count);
        Assert.All(counts, count => Assert.InRange(count, 800, 1200)); // 1000 expected per shard
    }

    /// <summary>Runs <paramref name="work"/> for each caller on the thread pool, all released at once.</summary>
    internal static async Task RunConcurrentlyAsync(int callers, Func<int, Task> work)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            await start.Task.WithTimeout();
            await work(caller).WithTimeout();
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(tasks).WithTimeout();
    }

    /// <summary>For ids 1..count, the shard each maps to, labelled by the order shards are first seen.</summary>
    private static List<int> LabelShards(CartRuntime runtime, int count)
    {
        var labels = new Dictionary<object, int>(ReferenceEqualityComparer.Instance);
        var result = new List<int>(count);
        for (ulong id = 1; id <= (ulong)count; id++)
        {
            var shard = runtime.ShardOf(id);
            if (!labels.TryGetValue(shard, out var label))
            {
                labels[shard] = label = labels.Count;
            }

            result.Add(label);
        }

        return result;
    }

    private static List<ulong> PickCartsCoveringEveryShard(CartRuntime runtime, int perShard)
    {
        var byShard = new Dictionary<object, List<ulong>>(ReferenceEqualityComparer.Instance);
        for (ulong id = 1; byShard.Count < runtime.ShardCount || byShard.Values.Any(c => c.Count < perShard); id++)
        {
            var carts = byShard.TryGetValue(runtime.ShardOf(id), out var list) ? list : byShard[runtime.ShardOf(id)] = [];
            if (carts.Count < perShard)
            {
                carts.Add(id);
            }
        }

        return byShard.Values.SelectMany(c => c).ToList();
    }
}

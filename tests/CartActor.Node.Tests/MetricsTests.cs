using System.Globalization;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using Grpc.Core;

namespace CartActor.Node.Tests;

/// <summary>
/// prometheus-net exports every node of a process through one process-wide registry (its 8.2.1 meter adapter
/// ignores MeterAdapterOptions.Registry), so these run alone, after the parallel suites, and assert on what
/// changed between two scrapes.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "Metrics (alone)";
}

/// <summary>
/// /metrics as Prometheus scrapes it. Exported names (prometheus-net's meter adapter prefixes the meter name):
/// cartactor_node_grpc_requests{rpc,status}, cartactor_node_grpc_request_duration_seconds_{bucket,sum,count}{rpc,status},
/// cartactor_cart_mutations_applied{type}, cartactor_cart_mutations_failed{type}, cartactor_cart_evictions{reason},
/// cartactor_cart_rejections, cartactor_cart_active, cartactor_cart_shard_queue_depth.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class MetricsTests
{
    [Fact]
    public async Task RequestsMutationsAndActiveCartsAreCountedPerRpcStatusAndType()
    {
        await using var node = await RunningNode.StartAsync();
        ulong first = Carts.NewId(), second = Carts.NewId();
        var before = await node.ScrapeAsync();

        await node.Client.ApplyAsync(Carts.Apply(first, Carts.Item("sku-a"), Carts.Item("sku-bad", quantity: 0))).WithTimeout();
        await node.Client.ApplyAsync(Carts.Apply(second, Carts.Item("sku-b"), new RemoveItem { ItemId = 42 })).WithTimeout();
        await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument, node.Client.ApplyAsync(Carts.Apply(0, Carts.Item("sku-c"))));
        await node.Client.GetAsync(new GetRequest { Id = first }).WithTimeout();
        var after = await node.ScrapeAsync();

        double Delta(string series) => after.GetValueOrDefault(series) - before.GetValueOrDefault(series);
        Assert.Equal(2, Delta("cartactor_node_grpc_requests{rpc=\"Apply\",status=\"OK\"}"));
        Assert.Equal(1, Delta("cartactor_node_grpc_requests{rpc=\"Apply\",status=\"InvalidArgument\"}"));
        Assert.Equal(1, Delta("cartactor_node_grpc_requests{rpc=\"Get\",status=\"OK\"}"));
        Assert.Equal(2, Delta("cartactor_node_grpc_request_duration_seconds_count{rpc=\"Apply\",status=\"OK\"}"));
        Assert.Equal(1, Delta("cartactor_node_grpc_request_duration_seconds_count{rpc=\"Apply\",status=\"InvalidArgument\"}"));
        Assert.Equal(1, Delta("cartactor_node_grpc_request_duration_seconds_count{rpc=\"Get\",status=\"OK\"}"));
        Assert.Equal(2, Delta("cartactor_node_grpc_request_duration_seconds_bucket{rpc=\"Apply\",status=\"OK\",le=\"+Inf\"}"));
        Assert.InRange(Delta("cartactor_node_grpc_request_duration_seconds_sum{rpc=\"Apply\",status=\"OK\"}"), double.Epsilon, 30);
        Assert.Equal(2, Delta("cartactor_cart_mutations_applied{type=\"AddItem\"}"));
        Assert.Equal(1, Delta("cartactor_cart_mutations_failed{type=\"AddItem\"}"));
        Assert.Equal(1, Delta("cartactor_cart_mutations_failed{type=\"RemoveItem\"}"));
        Assert.Equal(2, after["cartactor_cart_active"]);
        Assert.Equal(0, after["cartactor_cart_shard_queue_depth"]);
    }

    [Fact]
    public async Task EvictionsAreCountedByReason()
    {
        await using var node = await RunningNode.StartAsync(["--shards", "1", "--max-carts", "1"]);
        var before = await node.ScrapeAsync();

        for (var i = 0; i < 3; i++)
        {
            await node.Client.ApplyAsync(Carts.Apply(Carts.NewId(), Carts.Item("sku-a"))).WithTimeout();
        }

        var after = await node.ScrapeAsync();
        Assert.Equal(2, after.GetValueOrDefault("cartactor_cart_evictions{reason=\"capacity\"}") - before.GetValueOrDefault("cartactor_cart_evictions{reason=\"capacity\"}"));
        Assert.Equal(1, after["cartactor_cart_active"]);
    }

    [Fact]
    public async Task TheLatencyHistogramResolvesSubMillisecondCalls()
    {
        await using var node = await RunningNode.StartAsync();
        await node.ScrapeAsync();
        await node.Client.GetAsync(new GetRequest { Id = Carts.NewId() }).WithTimeout();

        const string Prefix = "cartactor_node_grpc_request_duration_seconds_bucket{rpc=\"Get\",status=\"OK\",le=\"";
        var bounds = (await node.ScrapeAsync()).Keys
            .Where(k => k.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(k => k[Prefix.Length..^2])
            .Where(le => le != "+Inf")
            .Select(le => double.Parse(le, CultureInfo.InvariantCulture))
            .ToList();

        // A cart call takes tens of microseconds: with buckets starting at 10 ms every call would land in the first one.
        Assert.Contains(bounds, b => b <= 0.0001);
        Assert.True(bounds.Count(b => b < 0.01) >= 5, "bounds below 10 ms: " + string.Join(", ", bounds.Where(b => b < 0.01)));
    }
}

using System.Text.Json;
using System.Text.RegularExpressions;
using CartActor.ControlPlane;
using Grpc.Core;

namespace CartActor.Node.Tests;

/// <summary>deploy/grafana: every query names a metric a real node exports, and every metric the node exports is on the dashboard.</summary>
public sealed partial class DashboardTests
{
    [Fact]
    public async Task EveryQueryNamesAnExportedMetricAndEveryExportedMetricIsCharted()
    {
        await using var node = await RunningNode.StartAsync(["--shards", "1", "--max-carts", "1"]);
        await node.Client.ApplyAsync(Carts.Apply(Carts.NewId(), Carts.Item("sku-a"), Carts.Item("sku-bad", quantity: 0))).WithTimeout();
        await node.Client.ApplyAsync(Carts.Apply(Carts.NewId(), Carts.Item("sku-b"))).WithTimeout();
        await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument, node.Client.ApplyAsync(Carts.Apply(0, Carts.Item("sku-c"))));
        await node.Client.GetAsync(new GetRequest { Id = Carts.NewId() }).WithTimeout();
        var exported = PrometheusText.MetricNames(await node.GetMetricsAsync()).Where(n => n.StartsWith("cartactor_", StringComparison.Ordinal)).ToHashSet();

        var queries = Queries().ToList();
        var named = queries.SelectMany(q => MetricName().Matches(q).Select(m => m.Value)).ToHashSet();

        Assert.NotEmpty(queries);
        Assert.All(named, name => Assert.True(
            exported.Contains(name) || exported.Contains(HistogramBase().Replace(name, string.Empty)),
            $"{name} is not exported by the node (exported: {string.Join(", ", exported.Order())})"));
        Assert.All(exported, name => Assert.True(
            named.Contains(name) || named.Any(n => HistogramBase().Replace(n, string.Empty) == name),
            $"{name} is exported but on no panel"));
    }

    private static IEnumerable<string> Queries()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(RepositoryFiles.PathOf("deploy", "grafana", "cartactor-dashboard.json")));
        var found = new List<string>();
        Collect(json.RootElement, found);
        return found;
    }

    /// <summary>Every "expr" (panel targets) and "query" (template variables) string anywhere in the document.</summary>
    private static void Collect(JsonElement element, List<string> found)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name is "expr" or "query" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        found.Add(property.Value.GetString()!);
                    }
                    else
                    {
                        Collect(property.Value, found);
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, found);
                }

                break;
        }
    }

    [GeneratedRegex(@"\bcartactor_[a-z0-9_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramBase();
}

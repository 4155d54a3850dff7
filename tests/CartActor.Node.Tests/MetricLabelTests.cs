using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Node.Tests;

/// <summary>Metric labels come only from fixed sets: client text never becomes a series.</summary>
public sealed class MetricLabelTests
{
    [Fact]
    public async Task FiveThousandDistinctUnknownTypeUrlsAddNoSeries()
    {
        await using var node = await RunningNode.StartAsync();
        var cart = Carts.NewId();
        // The first unknown type creates the one "unknown" series; everything after it must add none.
        await node.Client.ApplyAsync(UnknownTypes(cart, 0, 1)).WithTimeout();
        var before = await node.ScrapeAsync();

        const int Distinct = 5_000;
        for (var start = 0; start < Distinct; start += 400)
        {
            var result = await node.Client.ApplyAsync(UnknownTypes(cart, 1 + start, Math.Min(400, Distinct - start))).WithTimeout();
            Assert.All(result.Mutations, m => Assert.StartsWith("unknown mutation type 'type.example/unknown.T", m.Error, StringComparison.Ordinal));
        }

        var after = await node.ScrapeAsync();

        Assert.Empty(after.Keys.Except(before.Keys));
        const string Unknown = "cartactor_mutations_total{result=\"refused\",type=\"unknown\"}";
        Assert.Equal(Distinct, after[Unknown] - before[Unknown]);
    }

    private static ApplyRequest UnknownTypes(ulong cart, int first, int count)
    {
        var request = new ApplyRequest { Id = cart };
        for (var i = first; i < first + count; i++)
        {
            request.Messages.Add(new Any { TypeUrl = $"type.example/unknown.T{i}" });
        }

        return request;
    }
}

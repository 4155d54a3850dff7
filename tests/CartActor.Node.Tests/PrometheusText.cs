using System.Globalization;

namespace CartActor.Node.Tests;

internal static class PrometheusText
{
    /// <summary>/metrics parsed: "name{labels}" to value, one entry per sample line.</summary>
    public static async Task<Dictionary<string, double>> ScrapeAsync(this RunningNode node)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in (await node.GetMetricsAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return samples;
    }
}

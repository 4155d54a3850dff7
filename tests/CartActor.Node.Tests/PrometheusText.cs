using System.Globalization;

namespace CartActor.Node.Tests;

internal static class PrometheusText
{
    /// <summary>/metrics parsed: "name{labels}" to value, one entry per sample line, labels sorted by name.</summary>
    public static async Task<Dictionary<string, double>> ScrapeAsync(this RunningNode node) => Parse(await node.GetMetricsAsync());

    /// <summary>Sample lines as "name{a=\"1\",b=\"2\"}" (labels sorted by name, so tests need not know the exporter's order) to value.</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            // "name{labels} value [timestamp]"; label values here never contain spaces.
            var close = line.LastIndexOf('}');
            var nameEnd = close >= 0 ? close + 1 : line.IndexOf(' ', StringComparison.Ordinal);
            var series = line[..nameEnd];
            var value = line[nameEnd..].Trim().Split(' ')[0];
            samples[Normalize(series)] = double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return samples;
    }

    /// <summary>The metric names /metrics declares (its # TYPE lines), for checks of dashboards and docs against it.</summary>
    public static HashSet<string> MetricNames(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')[2])
            .ToHashSet(StringComparer.Ordinal);

    private static string Normalize(string series)
    {
        var open = series.IndexOf('{', StringComparison.Ordinal);
        if (open < 0 || open == series.Length - 2)
        {
            // No labels: "name" or "name{}".
            return open < 0 ? series : series[..open];
        }

        // Label values here never contain '",' (they come from fixed sets), so splitting on it is safe.
        var labels = series[(open + 1)..^1].Split("\",", StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.EndsWith('"') ? l : l + "\"")
            .Order(StringComparer.Ordinal);
        return $"{series[..open]}{{{string.Join(',', labels)}}}";
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace CartActor.Bench.Gate;

/// <summary>
/// bench/gates.json: per benchmark (keyed by <see cref="GateNames.Of"/>, e.g.
/// "CartActor.Bench.Core.CartRuntimeBenchmarks.Get"), the exact allocated bytes per operation allowed and
/// the loose mean-time ceiling. Any suite of this project, core or node, is gated by adding its entry.
/// </summary>
internal sealed class GateFile
{
    [JsonPropertyName("benchmarks")]
    public Dictionary<string, GateLimit> Benchmarks { get; init; } = new(StringComparer.Ordinal);

    public static GateFile Load(string path)
    {
        using var stream = File.OpenRead(path);
        var file = JsonSerializer.Deserialize<GateFile>(stream, new JsonSerializerOptions
        {
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        }) ?? throw new InvalidDataException($"{path} is empty");

        foreach (var (name, limit) in file.Benchmarks)
        {
            if (limit.MaxAllocatedBytesPerOp is null || limit.MaxAllocatedBytesPerOp < 0 || limit.MaxMeanNs is null || limit.MaxMeanNs <= 0)
            {
                throw new InvalidDataException($"{path}: {name} needs maxAllocatedBytesPerOp >= 0 and maxMeanNs > 0");
            }
        }

        return file;
    }
}

internal sealed class GateLimit
{
    /// <summary>Allocating more per operation than this fails the gate (exact for in-process entries; see gates.json).</summary>
    [JsonPropertyName("maxAllocatedBytesPerOp")]
    public long? MaxAllocatedBytesPerOp { get; init; }

    /// <summary>Loose: at least 3 x the median measured here, below 5 x, so noise passes and a 5 x slowdown fails.</summary>
    [JsonPropertyName("maxMeanNs")]
    public double? MaxMeanNs { get; init; }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using CartActor.Cart.Messages;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>
/// Round-trip figures of the store against a loopback redis-server, printed (not gated: timing on a shared CI
/// box is noise). Run: dotnet test tests/CartActor.Persistence.Tests --filter "Category=RedisMeasure"
/// --logger "console;verbosity=detailed".
/// </summary>
[Trait("Category", "RedisMeasure")]
public sealed class RedisRoundTripMeasurements(RedisServerFixture redis, ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    private const int Warmup = 200;
    private const int Iterations = 2000;

    [Fact]
    public async Task Batch_of_64_compare_and_set_writes_single_write_and_load()
    {
        using var store = redis.CreateStore();
        var versions = new ulong[65];
        var records = Enumerable.Range(0, 65).Select(i => RedisRecords.Cart((ulong)i, 0, "sku-1", "sku-2", "sku-3")).ToArray();
        var bytesPerRecord = records[1].CalculateSize();

        async Task WriteBatchAsync(int from, int count)
        {
            var writes = new List<CartWrite>(count);
            for (var id = from; id < from + count; id++)
            {
                var record = records[id];
                record.State.Version = versions[id] + 1;
                writes.Add(new CartWrite((ulong)id, record, versions[id]));
            }

            var conflicts = await store.WriteAsync(writes).WithTimeout();
            Assert.Empty(conflicts);
            for (var id = from; id < from + count; id++)
            {
                versions[id]++;
            }
        }

        var batch64 = await MeasureAsync(() => WriteBatchAsync(1, 64));
        var single = await MeasureAsync(() => WriteBatchAsync(0, 1));
        var load = await MeasureAsync(() =>
        {
            Assert.NotNull(store.Load(0));
            return Task.CompletedTask;
        });

        var stats = (string?)await redis.Admin.ExecuteAsync("INFO", "commandstats").WithTimeout() ?? "";
        var scriptCalls = string.Join(" ", stats.Split('\n').Where(line => line.StartsWith("cmdstat_eval", StringComparison.Ordinal)).Select(line => line.Trim()));

        var report = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"redis {redis.ConnectionString}, record {bytesPerRecord} B, {Iterations} iterations after {Warmup} warm-up, {Environment.ProcessorCount} cores")
            .AppendLine(CultureInfo.InvariantCulture, $"WriteAsync, batch of 64 CAS scripts: {batch64}  ({batch64.MeanMicros / 64:F1} us per write)")
            .AppendLine(CultureInfo.InvariantCulture, $"WriteAsync, batch of 1:               {single}")
            .AppendLine(CultureInfo.InvariantCulture, $"Load (sync HMGET):                    {load}")
            .AppendLine(CultureInfo.InvariantCulture, $"server: {scriptCalls}")
            .ToString();
        output.WriteLine(report);
        Console.WriteLine(report);

        // The pipeline works as designed: the script goes by its hash, not by its text, on every call but the first.
        Assert.Contains("cmdstat_evalsha", scriptCalls, StringComparison.Ordinal);
    }

    private static async Task<Figures> MeasureAsync(Func<Task> operation)
    {
        for (var i = 0; i < Warmup; i++)
        {
            await operation();
        }

        var samples = new double[Iterations];
        for (var i = 0; i < Iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await operation();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(samples);
        return new Figures(samples.Average(), samples[Iterations / 2], samples[(int)(Iterations * 0.99)], samples[^1]);
    }

    private readonly record struct Figures(double MeanMicros, double P50Micros, double P99Micros, double MaxMicros)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"mean {MeanMicros:F0} us, p50 {P50Micros:F0} us, p99 {P99Micros:F0} us, max {MaxMicros:F0} us");
    }
}

using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;

namespace CartActor.Bench.Configs;

/// <summary>Adds Op/s (operations per second, from the mean) to a throughput suite's table.</summary>
public sealed class ThroughputColumns : ManualConfig
{
    public ThroughputColumns() => AddColumn(StatisticColumn.OperationsPerSecond);
}

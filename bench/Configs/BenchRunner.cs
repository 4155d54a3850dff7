using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;

namespace CartActor.Bench.Configs;

/// <summary>
/// The ordinary run: BenchmarkDotNet's own command line (--filter, --job, --list, ...) passed through to
/// <see cref="BenchmarkSwitcher"/>. Without a selection it runs <see cref="DefaultSelection"/> instead of
/// asking interactively; without --job it uses <see cref="DefaultJob"/>.
/// </summary>
internal static class BenchRunner
{
    /// <summary>
    /// BenchmarkDotNet's default job (own process, 500 ms iterations, stops when the figures settle), with
    /// iterations capped so a noisy 2-core machine finishes the default selection in a few minutes
    /// instead of running 100 iterations per benchmark.
    /// </summary>
    public static Job DefaultJob { get; } = Job.Default
        .WithId("Default")
        .WithMaxWarmupCount(10)
        .WithMinIterationCount(15)
        .WithMaxIterationCount(30);

    /// <summary>
    /// What a bare `dotnet run -c Release --project bench` runs, a few minutes on 2 cores: the core suite and
    /// the node suite at one call at a time. The rest (node at 64 concurrent calls, cluster, durability) is
    /// selected with --filter (docs/BENCHMARKS.md); `--filter '*'` runs everything.
    /// </summary>
    public static readonly string[] DefaultSelection = ["CartActor.Bench.Core.*", "CartActor.Bench.Node.GrpcBenchmarks.*"];

    private static readonly string[] SelectionOptions =
        ["--filter", "-f", "--list", "--allCategories", "--anyCategories", "--info", "--help", "-h", "-?", "--version"];

    private static readonly string[] JobOptions =
        ["--job", "-j", "--runtimes", "-r", "--inProcess", "-i", "--launchCount", "--warmupCount", "--minWarmupCount",
         "--maxWarmupCount", "--iterationCount", "--minIterationCount", "--maxIterationCount", "--iterationTime",
         "--invocationCount", "--unrollFactor", "--runOncePerIteration"];

    public static int Run(string[] args)
    {
        if (!args.Any(a => SelectionOptions.Contains(a, StringComparer.OrdinalIgnoreCase)))
        {
            args = ["--filter", .. DefaultSelection, .. args];
        }

        var config = args.Any(a => JobOptions.Contains(a, StringComparer.OrdinalIgnoreCase))
            ? DefaultConfig.Instance
            : DefaultConfig.Instance.AddJob(DefaultJob);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(BenchRunner).Assembly).Run(args, config).ToList();
        var failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
        return failed ? 1 : 0;
    }
}

using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using CartActor.Bench.Configs;
using CartActor.ControlPlane;
using Grpc.Core;

namespace CartActor.Bench.Node;

/// <summary>
/// The same calls as <see cref="GrpcBenchmarks"/> with <see cref="Concurrency"/> in flight on one channel
/// (one HTTP/2 connection), each on its own cart: an invocation starts all of them and waits for all;
/// figures are per call (OperationsPerInvoke), Op/s is calls per second. The no-op service on the same
/// server is the baseline: the goal is Apply at >= 90 % of its calls per second (Ratio <= 1.11).
/// Not in the default selection (see docs/BENCHMARKS.md); never rename these methods.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[Config(typeof(ThroughputColumns))]
public class GrpcConcurrentBenchmarks
{
    public const int Concurrency = 64;

    private readonly Task<ApplyResult>[] _applies = new Task<ApplyResult>[Concurrency];
    private readonly Task<GetReply>[] _gets = new Task<GetReply>[Concurrency];
    private NodeUnderBench _node = null!;
    private Func<ApplyRequest, Metadata?, DateTime?, CancellationToken, AsyncUnaryCall<ApplyResult>> _realApply = null!;
    private Func<ApplyRequest, Metadata?, DateTime?, CancellationToken, AsyncUnaryCall<ApplyResult>> _noopApply = null!;
    private Func<GetRequest, Metadata?, DateTime?, CancellationToken, AsyncUnaryCall<GetReply>> _realGet = null!;
    private Func<GetRequest, Metadata?, DateTime?, CancellationToken, AsyncUnaryCall<GetReply>> _noopGet = null!;
    private int _errors;

    [GlobalSetup]
    public void Setup()
    {
        _node = NodeUnderBench.Start(carts: Concurrency);
        _realApply = _node.Real.ApplyAsync;
        _noopApply = _node.Noop.ApplyAsync;
        _realGet = _node.Real.GetAsync;
        _noopGet = _node.Noop.GetAsync;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            if (_errors != 0)
            {
                throw new InvalidOperationException($"node suite: {_errors} measured replies carried errors");
            }

            _node.EnsureCartsIntact(nameof(GrpcConcurrentBenchmarks));
        }
        finally
        {
            _node.Dispose();
        }
    }

    [Benchmark(OperationsPerInvoke = Concurrency), BenchmarkCategory("Apply")]
    public Task<int> Apply() => ApplyAll(_realApply);

    [Benchmark(OperationsPerInvoke = Concurrency, Baseline = true), BenchmarkCategory("Apply")]
    public Task<int> NoopApply() => ApplyAll(_noopApply);

    [Benchmark(OperationsPerInvoke = Concurrency), BenchmarkCategory("Get")]
    public Task<int> Get() => GetAll(_realGet);

    [Benchmark(OperationsPerInvoke = Concurrency, Baseline = true), BenchmarkCategory("Get")]
    public Task<int> NoopGet() => GetAll(_noopGet);

    private async Task<int> ApplyAll(Func<ApplyRequest, Metadata?, DateTime?, CancellationToken, AsyncUnaryCall<ApplyResult>> call)
    {
        var requests = _node.ApplyRequests;
        for (var i = 0; i < _applies.Length; i++)
        {
            _applies[i] = call(requests[i], null, null, default).ResponseAsync;
        }

        var errors = 0;
        for (var i = 0; i < _applies.Length; i++)
        {
            errors += NodeUnderBench.ErrorsIn(await _applies[i].ConfigureAwait(false));
        }

        _errors += errors;
        return errors;
    }

    private async Task<int> GetAll(Func<GetRequest, Metadata?, DateTime?, CancellationToken, AsyncUnaryCall<GetReply>> call)
    {
        var requests = _node.GetRequests;
        for (var i = 0; i < _gets.Length; i++)
        {
            _gets[i] = call(requests[i], null, null, default).ResponseAsync;
        }

        var bytes = 0;
        for (var i = 0; i < _gets.Length; i++)
        {
            bytes += (await _gets[i].ConfigureAwait(false)).Grain.Value.Length;
        }

        return bytes;
    }
}

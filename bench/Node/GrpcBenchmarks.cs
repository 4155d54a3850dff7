using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using CartActor.ControlPlane;

namespace CartActor.Bench.Node;

/// <summary>
/// The real node on loopback through Grpc.Net.Client, one call at a time: unary Apply (AddItem + set the
/// quantity back, valid forever) on a warm cart and Get of a warm five-line cart, each beside the same
/// call to the no-op service on the same server (the baseline: Ratio = node / ceiling). Client, Kestrel
/// and the cart runtime share this process and its two cores; allocations are the whole process's
/// (client and server) per call. Gated by bench/gates.json: never rename these methods.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GrpcBenchmarks
{
    private NodeUnderBench _node = null!;
    private ApplyRequest _apply = null!;
    private GetRequest _get = null!;
    private int _errors;

    [GlobalSetup]
    public void Setup()
    {
        _node = NodeUnderBench.Start(carts: 1);
        _apply = _node.ApplyRequests[0];
        _get = _node.GetRequests[0];
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

            _node.EnsureCartsIntact(nameof(GrpcBenchmarks));
        }
        finally
        {
            _node.Dispose();
        }
    }

    [Benchmark, BenchmarkCategory("Apply")]
    public async Task<int> Apply()
    {
        var result = await _node.Real.ApplyAsync(_apply).ConfigureAwait(false);
        _errors += NodeUnderBench.ErrorsIn(result);
        return result.Mutations.Count;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Apply")]
    public async Task<int> NoopApply()
    {
        var result = await _node.Noop.ApplyAsync(_apply).ConfigureAwait(false);
        _errors += NodeUnderBench.ErrorsIn(result);
        return result.Mutations.Count;
    }

    [Benchmark, BenchmarkCategory("Get")]
    public async Task<int> Get()
    {
        var reply = await _node.Real.GetAsync(_get).ConfigureAwait(false);
        return reply.Grain.Value.Length;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Get")]
    public async Task<int> NoopGet()
    {
        var reply = await _node.Noop.GetAsync(_get).ConfigureAwait(false);
        return reply.Grain.Value.Length;
    }
}

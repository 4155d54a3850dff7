using BenchmarkDotNet.Attributes;
using CartActor.Cart.Messages;
using CartActor.Packing;

namespace CartActor.Bench.Core;

/// <summary>
/// Encoding one version of a realistic cart (five lines, a delivery, a voucher) into a pooled buffer
/// wrapped in an Any, and handing the buffer back: what an Apply that changed the cart pays once.
/// </summary>
[MemoryDiagnoser]
public class PackingBenchmarks
{
    private CartState _state = null!;

    [GlobalSetup]
    public void Setup()
    {
        var runtime = BenchCarts.CreateRuntime();
        try
        {
            _state = BenchCarts.ApplyChecked(runtime, 4_004, BenchCarts.RealisticCart());
        }
        finally
        {
            runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        var packed = PackedState.Pack(_state);
        try
        {
            if (!CartState.Parser.ParseFrom(packed.Any.Value).Equals(_state) || _state.Items.Count != 5)
            {
                throw new InvalidOperationException("PackState: the packed bytes do not round-trip");
            }
        }
        finally
        {
            packed.Release();
        }
    }

    [Benchmark]
    public int PackState()
    {
        var packed = PackedState.Pack(_state);
        var length = packed.Length;
        packed.Release();
        return length;
    }
}

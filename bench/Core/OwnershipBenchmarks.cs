using BenchmarkDotNet.Attributes;
using CartActor.Ownership;

namespace CartActor.Bench.Core;

/// <summary>
/// Owner lookup on a five-member ring: one volatile read of the snapshot, a hash of the cart id and a
/// slot-table read, over 1024 different cart ids so the benchmark does not answer one id from cache.
/// </summary>
[MemoryDiagnoser]
public class OwnershipBenchmarks
{
    private const int IdCount = 1024;

    private readonly ulong[] _cartIds = new ulong[IdCount];
    private OwnershipMap _map = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _map = new OwnershipMap("node-a:5000");
        _map.Publish(["node-a:5000", "node-b:5000", "node-c:5000", "node-d:5000", "node-e:5000"], new HashSet<string>());
        var random = new Random(42);
        for (var i = 0; i < IdCount; i++)
        {
            _cartIds[i] = (ulong)random.NextInt64(1, long.MaxValue);
        }

        var owners = _cartIds.Select(id => _map.Lookup(id).OwnerIndex).Distinct().Count();
        if (_map.Current.Members.Count != 5 || owners != 5)
        {
            throw new InvalidOperationException($"OwnerLookup: expected 5 members owning the test ids, saw {owners}");
        }
    }

    [Benchmark]
    public int OwnerLookup()
    {
        var id = _cartIds[_next++ & (IdCount - 1)];
        var owner = _map.Lookup(id);
        return owner.OwnerIndex + (int)owner.Kind;
    }
}

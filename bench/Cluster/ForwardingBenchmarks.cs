using BenchmarkDotNet.Attributes;
using CartActor.Bench.Core;
using CartActor.Bench.Node;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using Google.Protobuf.WellKnownTypes;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;

namespace CartActor.Bench.Cluster;

/// <summary>
/// A 2-node loopback cluster in this process (<c>--store memory</c>, node B seeded with node A), one call
/// at a time through Grpc.Net.Client, on one cart owned by node B: <see cref="DirectApply"/> enters at B
/// (the owner), <see cref="ForwardedApply"/> enters at A, which forwards it once over its pooled channel to
/// B and relays the reply. Ratio = forwarded / direct; the goal is under 2. Both nodes and the client share
/// this process and its two cores. Never rename these methods once their figures are recorded.
/// </summary>
[MemoryDiagnoser]
public class ForwardingBenchmarks
{
    private static readonly TimeSpan ConvergeWithin = TimeSpan.FromSeconds(30);

    // Only the ping timeout is loosened (500 ms by default): on two busy cores a late ping must not make the
    // owner Suspect mid-run, which would turn forwarded calls into fast UNAVAILABLE answers.
    private static readonly string[] ClusterArgs = ["--Cluster:PingTimeout", "00:00:02"];

    private BenchNode _a = null!;
    private BenchNode _b = null!;
    private ControlPlaneClient _entryAtOwner = null!;
    private ControlPlaneClient _entryAtOther = null!;
    private ApplyRequest _apply = null!;
    private int _errors;

    [GlobalSetup]
    public void Setup()
    {
        string[] args = [.. ClusterArgs, .. StartStore()];
        _a = BenchNode.Start(args);
        try
        {
            _b = BenchNode.Start([.. args, "--seeds", _a.AdvertisedHost]);
            BenchNode.WaitForRing([_a, _b], ConvergeWithin);
            Prepare();
        }
        catch
        {
            _b?.Dispose();
            _a.Dispose();
            throw;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            if (_errors != 0)
            {
                throw new InvalidOperationException($"cluster suite: {_errors} measured replies carried errors");
            }

            EnsureOwnedByB(_apply.Id);
            var state = _entryAtOther.Get(new GetRequest { Id = _apply.Id }).Grain.Unpack<CartState>();
            if (state.Items.Count != 1 || state.Items[0].Quantity != 1 || state.Version % 2 != 1)
            {
                throw new InvalidOperationException($"cluster suite: cart {_apply.Id} is not as the batch leaves it: {state}");
            }
        }
        finally
        {
            _b.Dispose();
            _a.Dispose();
            StopStore();
        }
    }

    /// <summary>The nodes' extra store arguments (none: BenchNode's <c>--store memory</c>); starts the store when it is a server.</summary>
    protected virtual string[] StartStore() => [];

    /// <summary>Stops what <see cref="StartStore"/> started, after both nodes have stopped.</summary>
    protected virtual void StopStore()
    {
    }

    /// <summary>Apply entering at the cart's owner.</summary>
    [Benchmark(Baseline = true)]
    public async Task<int> DirectApply()
    {
        var result = await _entryAtOwner.ApplyAsync(_apply).ConfigureAwait(false);
        _errors += NodeUnderBench.ErrorsIn(result);
        return result.Mutations.Count;
    }

    /// <summary>The same Apply entering at the other node: one forwarding hop there and back.</summary>
    [Benchmark]
    public async Task<int> ForwardedApply()
    {
        var result = await _entryAtOther.ApplyAsync(_apply).ConfigureAwait(false);
        _errors += NodeUnderBench.ErrorsIn(result);
        return result.Mutations.Count;
    }

    private void Prepare()
    {
        // The first id (same varint length as the node suite's) that both rings give to B.
        var cartId = 3_000_001UL;
        while (_a.View.Ring.OwnerOf(cartId) != _b.View.Self)
        {
            cartId++;
        }

        EnsureOwnedByB(cartId);
        _entryAtOwner = _b.Client;
        _entryAtOther = _a.Client;
        var item = BenchCarts.Item(1);
        _apply = new ApplyRequest { Id = cartId };
        _apply.Messages.Add(Any.Pack(new AddItem(item) { Quantity = 1 }));
        _apply.Messages.Add(Any.Pack(new ChangeQuantity { ItemId = 1, Quantity = 1 }));

        // Both ways reach the same cart at B, cleanly; A never holds it (it forwarded, it did not apply).
        for (var call = 1; call <= 4; call++)
        {
            var result = (call % 2 == 0 ? _entryAtOwner : _entryAtOther).Apply(_apply);
            var state = result.State.Unpack<CartState>();
            if (NodeUnderBench.ErrorsIn(result) != 0 || state.Id != cartId || state.Items.Count != 1
                || state.Items[0].Quantity != 1 || state.Version != (ulong)(2 * call - 1))
            {
                throw new InvalidOperationException($"cluster suite set-up: Apply {call} of cart {cartId} is not clean: {state}");
            }
        }

        if (!_b.Get<CartRuntime>().IsActive(cartId) || _a.Get<CartRuntime>().IsActive(cartId))
        {
            throw new InvalidOperationException($"cluster suite set-up: cart {cartId} should be live on {_b.AdvertisedHost} only");
        }

        // As in the node suite: a few seconds of both paths so tiered compilation has settled before timing.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < NodeUnderBench.WarmUpTime)
        {
            if (NodeUnderBench.ErrorsIn(_entryAtOwner.Apply(_apply)) + NodeUnderBench.ErrorsIn(_entryAtOther.Apply(_apply)) != 0)
            {
                throw new InvalidOperationException($"cluster suite warm-up: an Apply of cart {cartId} was refused");
            }
        }

        EnsureOwnedByB(cartId);
        Console.WriteLine($"// cluster suite: ring [{string.Join(", ", _a.View.Ring.Members)}], cart {cartId} owned by {_b.AdvertisedHost}; " +
                          $"direct enters at {_b.AdvertisedHost}, forwarded at {_a.AdvertisedHost}");
    }

    private void EnsureOwnedByB(ulong cartId)
    {
        if (_a.View.Ring.Members.Count != 2 || _b.View.Ring.Members.Count != 2
            || _a.View.Ring.OwnerOf(cartId) != _b.View.Self || _b.View.Ring.OwnerOf(cartId) != _b.View.Self)
        {
            throw new InvalidOperationException(
                $"cluster suite: the nodes disagree on cart {cartId} or lost a member: A [{string.Join(",", _a.View.Ring.Members)}] " +
                $"owner {_a.View.Ring.OwnerOf(cartId)}, B [{string.Join(",", _b.View.Ring.Members)}] owner {_b.View.Ring.OwnerOf(cartId)}");
        }
    }
}

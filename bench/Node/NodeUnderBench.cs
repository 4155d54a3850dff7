using CartActor.Bench.Core;
using CartActor.Bench.Node.Noop;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;

namespace CartActor.Bench.Node;

/// <summary>
/// Set-up of the node suite: a real node (<c>--store memory</c>) with the no-op service mapped on the same
/// server, <paramref name="carts"/> Apply carts and as many Get carts, every request built once, every
/// reply checked before anything is timed. The no-op replies are copies of the real node's replies.
/// </summary>
internal sealed class NodeUnderBench : IDisposable
{
    // Same varint length for every id, so every request and reply is the same size.
    private const ulong ApplyCartBase = 1_000_001;
    private const ulong GetCartBase = 2_000_001;

    private NodeUnderBench(BenchNode node, int carts)
    {
        Node = node;
        Real = node.Client;
        Noop = new NoopControlPlane.NoopControlPlaneClient(node.Channel);
        ApplyRequests = new ApplyRequest[carts];
        GetRequests = new GetRequest[carts];
        var item = BenchCarts.Item(1);
        for (var i = 0; i < carts; i++)
        {
            // Stays valid forever: add one to line 1, set it back to one. Two versions per call, same size.
            var apply = new ApplyRequest { Id = ApplyCartBase + (ulong)i };
            apply.Messages.Add(Any.Pack(new AddItem(item) { Quantity = 1 }));
            apply.Messages.Add(Any.Pack(new ChangeQuantity { ItemId = 1, Quantity = 1 }));
            ApplyRequests[i] = apply;
            GetRequests[i] = new GetRequest { Id = GetCartBase + (ulong)i };
        }
    }

    /// <summary>
    /// Calls made in set-up before anything is timed. The gRPC client, Kestrel and the node are a large body of
    /// code that tiered compilation (with PGO, as the node ships) takes seconds of traffic to settle on two
    /// cores: measured here, the median of one call at a time fell from about 500 us to about 140 us over the
    /// first 8 s and stayed there. Without this the gate's short in-process job timed the first node benchmark
    /// at 3-4 x its settled figure.
    /// </summary>
    public static readonly TimeSpan WarmUpTime = TimeSpan.FromSeconds(8);

    public BenchNode Node { get; }

    public ControlPlaneClient Real { get; }

    public NoopControlPlane.NoopControlPlaneClient Noop { get; }

    public ApplyRequest[] ApplyRequests { get; }

    public GetRequest[] GetRequests { get; }

    public int ApplyReplyBytes { get; private set; }

    public int GetReplyBytes { get; private set; }

    public static NodeUnderBench Start(int carts)
    {
        var node = BenchNode.Start(
            customize: builder => builder.Services.AddSingleton<NoopControlPlaneService>(),
            beforeStart: app => app.MapGrpcService<NoopControlPlaneService>());
        var bench = new NodeUnderBench(node, carts);
        try
        {
            bench.Prepare();
        }
        catch
        {
            bench.Dispose();
            throw;
        }

        return bench;
    }

    /// <summary>Fails when a reply of the real Apply refused a mutation; used on measured replies (cheap).</summary>
    public static int ErrorsIn(ApplyResult result)
    {
        var errors = 0;
        var mutations = result.Mutations;
        for (var i = 0; i < mutations.Count; i++)
        {
            if (mutations[i].HasError)
            {
                errors++;
            }
        }

        return errors + (result.State is null ? 1 : 0);
    }

    /// <summary>
    /// Every Apply cart still holds one line at quantity 1, at an odd version: the first call creates the line
    /// (one version; setting 1 to 1 changes nothing), every later call adds two (AddItem to 2, back to 1).
    /// </summary>
    public void EnsureCartsIntact(string benchmark)
    {
        foreach (var request in GetRequests)
        {
            var state = Real.Get(request).Grain.Unpack<CartState>();
            if (state.Items.Count != 5)
            {
                throw new InvalidOperationException($"{benchmark}: Get cart {request.Id} changed: {state}");
            }
        }

        foreach (var request in ApplyRequests)
        {
            var state = Real.Get(new GetRequest { Id = request.Id }).Grain.Unpack<CartState>();
            if (state.Items.Count != 1 || state.Items[0].Quantity != 1 || state.Version % 2 != 1)
            {
                throw new InvalidOperationException($"{benchmark}: Apply cart {request.Id} is not as the batch leaves it: {state}");
            }
        }
    }

    private void Prepare()
    {
        ApplyResult? applied = null;
        foreach (var request in ApplyRequests)
        {
            for (var call = 1; call <= 3; call++)
            {
                applied = Real.Apply(request);
                var state = applied.State.Unpack<CartState>();
                if (ErrorsIn(applied) != 0 || applied.Mutations.Count != 2 || state.Id != request.Id
                    || state.Items.Count != 1 || state.Items[0].Quantity != 1 || state.Version != (ulong)(2 * call - 1))
                {
                    throw new InvalidOperationException($"node suite set-up: Apply of cart {request.Id} (call {call}) is not clean: {state}");
                }
            }
        }

        GetReply? got = null;
        var realistic = BenchCarts.RealisticCart();
        foreach (var request in GetRequests)
        {
            var fill = new ApplyRequest { Id = request.Id };
            fill.Messages.Add(realistic);
            if (ErrorsIn(Real.Apply(fill)) != 0)
            {
                throw new InvalidOperationException($"node suite set-up: the realistic cart {request.Id} was refused");
            }

            got = Real.Get(request);
            var state = got.Grain.Unpack<CartState>();
            if (state.Id != request.Id || state.Items.Count != 5 || state.Deliveries.Count != 1 || state.Vouchers.Count != 1)
            {
                throw new InvalidOperationException($"node suite set-up: Get of cart {request.Id} is wrong: {state}");
            }
        }

        // The ceiling answers with copies of real replies: same fields, same bytes on the wire.
        var noop = Node.Get<NoopControlPlaneService>();
        noop.SetReplies(applied!.Clone(), got!.Clone());
        var noopApply = Noop.Apply(ApplyRequests[0]);
        var noopGet = Noop.Get(GetRequests[0]);
        if (!noopApply.Equals(applied) || !noopGet.Equals(got))
        {
            throw new InvalidOperationException("node suite set-up: the no-op service does not answer with the captured replies");
        }

        WarmUp(WarmUpTime);
        ApplyReplyBytes = applied.CalculateSize();
        GetReplyBytes = got.CalculateSize();
        Console.WriteLine($"// node suite: {ApplyRequests.Length} Apply + {GetRequests.Length} Get carts on {Node.AdvertisedHost}; " +
                          $"Apply request {ApplyRequests[0].CalculateSize()} B, reply {ApplyReplyBytes} B; Get reply {GetReplyBytes} B (real = no-op)");
    }

    /// <summary>Real and no-op Apply and Get, one at a time, round-robin over the carts, for <paramref name="time"/>.</summary>
    private void WarmUp(TimeSpan time)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; watch.Elapsed < time; i++)
        {
            var apply = ApplyRequests[i % ApplyRequests.Length];
            var get = GetRequests[i % GetRequests.Length];
            if (ErrorsIn(Real.Apply(apply)) + ErrorsIn(Noop.Apply(apply)) != 0)
            {
                throw new InvalidOperationException($"node suite warm-up: an Apply of cart {apply.Id} was refused");
            }

            Real.Get(get);
            Noop.Get(get);
        }
    }

    public void Dispose() => Node.Dispose();
}

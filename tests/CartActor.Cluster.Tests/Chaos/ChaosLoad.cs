using System.Collections.Concurrent;
using System.Diagnostics;
using CartActor.ControlPlane;
using Grpc.Core;

namespace CartActor.Cluster.Tests.Chaos;

/// <summary>
/// Many clients writing at once, the way a shop's web tier does: each client owns its own carts and sends
/// keyless Applies of one AddItem with a unique sku (quantity 1), to a node picked at random among those
/// its routing currently allows, with a deadline and no retry. It records every acknowledged sku and every
/// failed call (status, node, phase, time), so <see cref="ChaosVerification"/> can prove nothing acknowledged
/// was lost or applied twice. Routing is what a Kubernetes Service does: a node is routable while the test
/// keeps it in rotation and its /readyz answered 200 at the last probe.
/// </summary>
internal sealed class ChaosLoad
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(200);

    private readonly ConcurrentDictionary<NodeProcess, bool> _ready = new();
    private readonly ConcurrentDictionary<ulong, ConcurrentDictionary<string, byte>> _sent = new();
    private readonly ConcurrentDictionary<ulong, ConcurrentDictionary<string, byte>> _acknowledged = new();
    private readonly ConcurrentQueue<CallFailure> _failures = new();
    private readonly ConcurrentQueue<(TimeSpan At, string What)> _events = new();
    private readonly ConcurrentQueue<string> _staleReads = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private volatile NodeProcess[] _routable = [];
    private volatile string _phase = "start";
    private int _acknowledgedCount;

    public ChaosLoad(IEnumerable<NodeProcess> nodes)
    {
        foreach (var node in nodes)
        {
            Route(node);
        }
    }

    /// <summary>Concurrent clients. Default 16.</summary>
    public int Clients { get; init; } = 16;

    /// <summary>A client moves to a fresh cart once one holds this many lines (carts cap their lines). Default 150.</summary>
    public int MaxLinesPerCart { get; init; } = 150;

    /// <summary>Carts each client writes to in turn. Default 4.</summary>
    public int CartsPerClient { get; init; } = 4;

    /// <summary>Pause of each client between calls, so 16 clients leave the 2-core machine's timers room. Default 5 ms.</summary>
    public TimeSpan ThinkTime { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Deadline of every call. Default 10 s.</summary>
    public TimeSpan CallDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After each acknowledgement, read the cart through another routable node and require the new sku in it.</summary>
    public bool ReadAfterWrite { get; init; }

    /// <summary>Time since the load object was created; the time base of failures and events.</summary>
    public TimeSpan Now => _clock.Elapsed;

    /// <summary>The label failures are recorded under from now on (e.g. "steady", "restart 127.0.0.1:1234").</summary>
    public string Phase
    {
        get => _phase;
        set
        {
            _phase = value;
            Mark($"phase: {value}");
        }
    }

    public int AcknowledgedCount => Volatile.Read(ref _acknowledgedCount);

    public IReadOnlyDictionary<ulong, ConcurrentDictionary<string, byte>> Sent => _sent;

    public IReadOnlyDictionary<ulong, ConcurrentDictionary<string, byte>> Acknowledged => _acknowledged;

    public IReadOnlyCollection<CallFailure> Failures => _failures;

    public IReadOnlyCollection<string> StaleReads => _staleReads;

    public IEnumerable<(TimeSpan At, string What)> Events => _events;

    /// <summary>Records a scenario event (a kill, a restart) on the load's clock, for the report.</summary>
    public void Mark(string what) => _events.Enqueue((Now, what));

    /// <summary>Puts a node in the clients' rotation (it takes traffic once its /readyz says ready).</summary>
    public void Route(NodeProcess node)
    {
        _ready.TryAdd(node, false);
        Mark($"route {node.AdvertisedHost}");
    }

    /// <summary>Takes a node out of the clients' rotation at once (a Service dropping an endpoint, a preStop hook).</summary>
    public void Unroute(NodeProcess node)
    {
        _ready.TryRemove(node, out _);
        Publish();
        Mark($"unroute {node.AdvertisedHost}");
    }

    /// <summary>Runs the clients and the readiness probes until <paramref name="stop"/>; calls in flight then finish (their deadline bounds them).</summary>
    public Task RunAsync(CancellationToken stop) =>
        Task.WhenAll([ProbeAsync(stop), .. Enumerable.Range(0, Clients).Select(c => Task.Run(() => ClientAsync(c, stop), CancellationToken.None))]);

    /// <summary>Stops the clients and waits for the calls in flight (each bounded by its deadline).</summary>
    public static async Task StopAsync(CancellationTokenSource stop, Task run)
    {
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Lets the load run for at least <paramref name="duration"/> and at least <paramref name="count"/> more acknowledgements.</summary>
    public async Task RunForAsync(TimeSpan duration, int count, TimeSpan within)
    {
        var waited = Task.Delay(duration);
        await WaitForAcknowledgementsAsync(count, within);
        await waited;
    }

    /// <summary>Waits until at least <paramref name="count"/> more acknowledgements came in; fails after <paramref name="within"/>.</summary>
    public async Task WaitForAcknowledgementsAsync(int count, TimeSpan within)
    {
        var target = AcknowledgedCount + count;
        var clock = Stopwatch.StartNew();
        while (AcknowledgedCount < target)
        {
            Assert.True(clock.Elapsed < within, $"only {AcknowledgedCount} of {target} acknowledgements within {within}; failures: {string.Join("; ", _failures.TakeLast(5))}");
            await Task.Delay(20);
        }
    }

    private async Task ClientAsync(int client, CancellationToken stop)
    {
        var random = new Random(client * 7919);
        var carts = Enumerable.Range(0, CartsPerClient).Select(i => CartId(client, i)).ToArray();
        var nextCart = CartsPerClient;
        var sequence = 0;
        while (!stop.IsCancellationRequested)
        {
            var slot = sequence % carts.Length;
            if (_sent.TryGetValue(carts[slot], out var lines) && lines.Count >= MaxLinesPerCart)
            {
                carts[slot] = CartId(client, nextCart++);
            }

            var entry = Pick(random, exclude: null);
            if (entry is null)
            {
                await Task.Delay(10, CancellationToken.None);
                continue;
            }

            var cart = carts[slot];
            var sku = $"c{client}-{sequence++}";
            _sent.GetOrAdd(cart, _ => new())[sku] = 0;
            if (await ApplyAsync(entry, cart, sku) && ReadAfterWrite)
            {
                await ReadBackAsync(random, entry, cart, sku);
            }

            await Task.Delay(ThinkTime, CancellationToken.None);
        }
    }

    private async Task<bool> ApplyAsync(NodeProcess entry, ulong cart, string sku)
    {
        var request = new ApplyRequest { Id = cart };
        request.Messages.Add(TestCluster.Add(sku));
        var started = Now;
        try
        {
            var result = await entry.Client.ApplyAsync(request, deadline: DateTime.UtcNow + CallDeadline);
            Assert.False(result.Mutations[0].HasError, $"cart {cart} refused {sku}: {result.Mutations[0].Error}");
            _acknowledged.GetOrAdd(cart, _ => new())[sku] = 0;
            Interlocked.Increment(ref _acknowledgedCount);
            return true;
        }
        catch (RpcException ex)
        {
            _failures.Enqueue(new CallFailure(started, Now, "apply", entry.AdvertisedHost, cart, sku, ex.StatusCode, ex.Status.Detail, _phase));
            return false;
        }
    }

    private async Task ReadBackAsync(Random random, NodeProcess writer, ulong cart, string sku)
    {
        if (Pick(random, exclude: writer) is not { } reader)
        {
            return;
        }

        var started = Now;
        try
        {
            var reply = await reader.Client.GetAsync(new GetRequest { Id = cart }, deadline: DateTime.UtcNow + CallDeadline);
            if (!TestCluster.State(reply).Items.Any(i => i.Sku == sku))
            {
                _staleReads.Enqueue($"{Now.TotalSeconds:F2}s [{_phase}] cart {cart} read through {reader.AdvertisedHost} lacks {sku} acknowledged by {writer.AdvertisedHost}");
            }
        }
        catch (RpcException ex)
        {
            _failures.Enqueue(new CallFailure(started, Now, "get", reader.AdvertisedHost, cart, sku, ex.StatusCode, ex.Status.Detail, _phase));
        }
    }

    private NodeProcess? Pick(Random random, NodeProcess? exclude)
    {
        var routable = _routable;
        if (exclude is not null && routable.Length > 1)
        {
            routable = [.. routable.Where(n => n != exclude)];
        }
        else if (exclude is not null)
        {
            return null;
        }

        return routable.Length == 0 ? null : routable[random.Next(routable.Length)];
    }

    private async Task ProbeAsync(CancellationToken stop)
    {
        // One probe loop per node, so a paused node's hanging probe does not delay the others' verdicts.
        var loops = new Dictionary<NodeProcess, Task>();
        while (!stop.IsCancellationRequested)
        {
            foreach (var node in _ready.Keys.Where(n => !loops.ContainsKey(n) || loops[n].IsCompleted))
            {
                loops[node] = ProbeOnceAsync(node);
            }

            await Task.Delay(ProbeInterval, CancellationToken.None);
        }

        await Task.WhenAll(loops.Values);
    }

    private async Task ProbeOnceAsync(NodeProcess node)
    {
        var ready = await node.ReadyzAsync() == 200;
        if (_ready.TryGetValue(node, out var was) && was != ready && _ready.TryUpdate(node, ready, was))
        {
            Publish();
            Mark($"{node.AdvertisedHost} {(ready ? "ready" : "not ready")}");
        }
    }

    private void Publish() => _routable = [.. _ready.Where(p => p.Value).Select(p => p.Key).OrderBy(n => n.GrpcPort)];

    private static ulong CartId(int client, int index) => 1_000_000UL + ((ulong)client * 100_000UL) + (ulong)index;
}

/// <summary>One call that did not come back OK: when it started and ended (load clock), through which node, in which phase.</summary>
internal sealed record CallFailure(TimeSpan Started, TimeSpan Ended, string Call, string Node, ulong Cart, string Sku, StatusCode Status, string Detail, string Phase)
{
    public override string ToString() => $"{Started.TotalSeconds:F2}-{Ended.TotalSeconds:F2}s [{Phase}] {Call} via {Node} cart {Cart} {Sku}: {Status} {Detail}";
}

using System.Diagnostics;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;

namespace CartActor.Cluster.Tests.Chaos;

/// <summary>
/// Nodes as real processes on one shared store, every node seeded with every original node (itself included,
/// as a Kubernetes headless service resolves to every pod), so any of them restarts into the same cluster.
/// Timers are the fast test timers with a drain delay closer to production's: a rolling restart takes seconds.
/// </summary>
internal sealed class ProcessCluster : IAsyncDisposable
{
    /// <summary>How long a process may take to start and join (dotnet start-up on a loaded 2-core machine).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(45);

    /// <summary>
    /// On SIGTERM, readiness off and serving on for this long before the node leaves the ring: the stand-in for
    /// a Service's 5 s. Longer than the clients' 1 s preStop and their 200 ms readiness probes, as in production.
    /// </summary>
    public static readonly TimeSpan DrainDelay = TimeSpan.FromSeconds(1.5);

    private readonly List<NodeProcess> _nodes = [];
    private readonly string[] _arguments;

    private ProcessCluster(string[] arguments) => _arguments = arguments;

    public IReadOnlyList<NodeProcess> Nodes => _nodes;

    /// <summary>The per-node arguments after ports and seeds: store, timers.</summary>
    public static string[] Arguments(string store) =>
    [
        .. TestCluster.FastTimers,
        "--store", store,
        "--Node:DrainDelay", DrainDelay.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        "--Node:ShutdownTimeout", "00:00:15",
    ];

    /// <summary>Starts <paramref name="count"/> nodes at once and waits until each is ready and sees all of them.</summary>
    public static async Task<ProcessCluster> StartAsync(int count, string store)
    {
        var distinct = new HashSet<int>();
        while (distinct.Count < count * 2)
        {
            distinct.Add(NodeProcess.FreePort());
        }

        var ports = distinct.Chunk(2).Select(p => (Grpc: p[0], Http: p[1])).ToArray();
        var seeds = string.Join(',', ports.Select(p => $"127.0.0.1:{p.Grpc}"));
        var cluster = new ProcessCluster([.. Arguments(store), "--seeds", seeds]);
        try
        {
            foreach (var (grpc, http) in ports)
            {
                cluster._nodes.Add(NodeProcess.Launch(grpc, http, cluster._arguments));
            }

            await Task.WhenAll(cluster._nodes.Select(n => n.WaitReadyAsync(StartTimeout)));
            await cluster.WaitForMembersAsync(cluster._nodes);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts <paramref name="count"/> more nodes at once with the same seeds and waits until each is ready.</summary>
    public async Task<IReadOnlyList<NodeProcess>> AddNodesAsync(int count)
    {
        var added = Enumerable.Range(0, count).Select(_ => NodeProcess.Launch(0, 0, _arguments)).ToArray();
        _nodes.AddRange(added);
        await Task.WhenAll(added.Select(n => n.WaitReadyAsync(StartTimeout)));
        return added;
    }

    /// <summary>Waits until every one of <paramref name="members"/> answers Negotiate with exactly their hosts.</summary>
    public async Task WaitForMembersAsync(IReadOnlyCollection<NodeProcess> members, TimeSpan? within = null)
    {
        var expected = members.Select(n => n.AdvertisedHost).Order(StringComparer.Ordinal).ToArray();
        var clock = Stopwatch.StartNew();
        var last = "";
        while (true)
        {
            var views = await Task.WhenAll(members.Select(async n =>
            {
                try
                {
                    var reply = await n.Client.NegotiateAsync(new NegotiateRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
                    return reply.Hosts.Order(StringComparer.Ordinal).ToArray();
                }
                catch (Grpc.Core.RpcException)
                {
                    return [];
                }
            }));
            if (views.All(v => v.SequenceEqual(expected)))
            {
                return;
            }

            last = string.Join(" | ", members.Zip(views, (n, v) => $"{n.AdvertisedHost}: [{string.Join(",", v)}]"));
            if (clock.Elapsed > (within ?? StartTimeout))
            {
                Assert.Fail($"members never agreed on [{string.Join(",", expected)}]: {last}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Every node's output, for a failure message.</summary>
    public string Logs(int tailLines = 60) =>
        string.Join("\n", _nodes.Select(n => $"===== {n.AdvertisedHost}\n{string.Join('\n', n.Output.Split('\n').TakeLast(tailLines))}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            try
            {
                await node.DisposeAsync();
            }
            catch (Exception)
            {
                // A node that failed to stop must not keep the others running.
            }
        }
    }
}

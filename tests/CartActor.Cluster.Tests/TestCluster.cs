using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Node.Membership;
using CartActor.Node.Tests;
using CartActor.Tests.Shared.Redis;
using CartActor.Tests.Shared;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace CartActor.Cluster.Tests;

/// <summary>
/// Several real nodes in this process on loopback ports, the first one the seed of the rest, sharing one
/// real Redis (started here, the cluster's store), with fast cluster timers so membership changes settle
/// in a second or two.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    public static readonly string[] FastTimers =
    [
        "--Cluster:PingInterval", "00:00:00.200",
        "--Cluster:PingTimeout", "00:00:00.500",
        "--Cluster:SuspectAfterMisses", "3",
        "--Cluster:DeadAfter", "00:00:03",
        "--Cluster:NegotiateInterval", "00:00:01",
        "--Node:DrainDelay", "00:00:00.300",
        "--Cluster:ForwardTimeout", "00:00:05",
    ];

    private readonly List<RunningNode> _nodes = [];
    private string[] _extraArgs = [];

    public RedisServerFixture Redis { get; } = new();

    /// <summary>The node arguments that put a node on this cluster's store.</summary>
    public string[] StoreArgs => ["--store", Redis.ConnectionString];

    public IReadOnlyList<RunningNode> Nodes => _nodes;

    public IEnumerable<RunningNode> Live => _nodes.Where(n => !Stopped.Contains(n));

    public HashSet<RunningNode> Stopped { get; } = [];

    /// <summary>Every Apply attempt <see cref="ApplyWithRetryAsync"/> saw fail (it retried them).</summary>
    public System.Collections.Concurrent.ConcurrentBag<string> FailedAttempts { get; } = [];

    /// <summary>Starts <paramref name="nodes"/> nodes; <paramref name="extraArgs"/> follow the fast timers (a later setting wins).</summary>
    public static async Task<TestCluster> StartAsync(int nodes, params string[] extraArgs)
    {
        var cluster = new TestCluster { _extraArgs = extraArgs };
        for (var i = 0; i < nodes; i++)
        {
            await cluster.AddNodeAsync();
        }

        await cluster.WaitForConvergenceAsync();
        return cluster;
    }

    public async Task<RunningNode> AddNodeAsync()
    {
        string[] seeds = _nodes.Count == 0 ? [] : ["--seeds", $"127.0.0.1:{_nodes[0].GrpcPort}"];
        var node = await RunningNode.StartAsync([.. FastTimers, .. _extraArgs, .. StoreArgs, .. seeds]);
        _nodes.Add(node);
        return node;
    }

    public async Task StopAsync(RunningNode node)
    {
        Stopped.Add(node);
        await node.StopAsync();
    }

    /// <summary>Waits until every live node's ring holds exactly the live nodes.</summary>
    public async Task WaitForConvergenceAsync(TimeSpan? within = null)
    {
        var expected = Live.Select(n => n.AdvertisedHost.ToLowerInvariant()).Order(StringComparer.Ordinal).ToArray();
        await Eventually.TrueAsync(
            () => Live.All(n => n.Get<ClusterView>().Ring.Members.SequenceEqual(expected) && n.Get<ClusterMembership>().IsJoined && n.Get<ClusterMembership>().IsConfirmed),
            within ?? TimeSpan.FromSeconds(20),
            () => string.Join(" | ", Live.Select(n => $"{n.AdvertisedHost}: [{string.Join(",", n.Get<ClusterView>().Ring.Members)}]")));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Enumerable.Reverse(_nodes))
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

        Redis.Dispose();
    }

    public static Any Add(string sku, int quantity = 1, long price = 100) =>
        Any.Pack(new AddItem { Sku = sku, Name = sku, Quantity = quantity, UnitPrice = price, TaxRate = 2500 });

    /// <summary>
    /// Applies through a random live entry node, retrying retryable statuses (through other entry nodes)
    /// with the same idempotency key, as a well-behaved client does. Returns the result, or null when it
    /// gave up (the mutation may or may not have been applied).
    /// </summary>
    public async Task<ApplyResult?> ApplyWithRetryAsync(ulong cartId, Any mutation, string key, Random random, int attempts = 20)
    {
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            var entries = Live.ToArray();
            var entry = entries[random.Next(entries.Length)];
            try
            {
                var request = new ApplyRequest { Id = cartId };
                request.Messages.Add(mutation);
                return await entry.Client.ApplyAsync(
                    request,
                    new Metadata { { "idempotency-key", key } },
                    deadline: DateTime.UtcNow.AddSeconds(10));
            }
            catch (RpcException ex) when (IsRetryable(ex.StatusCode))
            {
                FailedAttempts.Add($"{entry.AdvertisedHost}: {ex.StatusCode} {ex.Status.Detail}");
                await Task.Delay(50 + random.Next(100));
            }
        }

        return null;
    }

    public static bool IsRetryable(StatusCode status) =>
        status is StatusCode.Unavailable or StatusCode.ResourceExhausted or StatusCode.Cancelled or StatusCode.DeadlineExceeded or StatusCode.Aborted;

    public static CartState State(GetReply reply) => reply.Grain.Unpack<CartState>();
}

public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, TimeSpan within, Func<string>? describe = null)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"condition not met within {within}: {describe?.Invoke()}");
            }

            await Task.Delay(50);
        }
    }
}

using CartActor.Persistence.Redis;
using StackExchange.Redis;

namespace CartActor.Tests.Shared.Redis;

/// <summary>
/// A Redis the tests started themselves, whatever its topology (one standalone server, or a Redis Cluster of
/// three masters), so one test body can run against each: the store suite runs once per topology.
/// </summary>
public interface IRedisTopology : IDisposable
{
    /// <summary>"standalone" or "cluster", for messages.</summary>
    string Topology { get; }

    /// <summary>The URI form the node's <c>--store redis://host:port</c> takes (a cluster: any one master; the client discovers the rest).</summary>
    string ConnectionString { get; }

    /// <summary>Every server as plain <c>host:port</c> StackExchange.Redis end points, comma-separated.</summary>
    string Endpoints { get; }

    /// <summary>A raw client for arranging and inspecting keys behind the store's back (routed by key on a cluster).</summary>
    IDatabase Admin { get; }

    /// <summary>A store whose keys no other test touches (a fresh prefix unless one is given).</summary>
    RedisCartStore CreateStore(string? keyPrefix = null, string? connectionString = null);

    /// <summary>
    /// <c>CLIENT PAUSE ms ALL</c> on every server: each client's commands wait until the pause ends (a stalled
    /// Redis as a slow disk or a failover looks to the nodes). Returns at once; the pause runs on the server.
    /// </summary>
    void Pause(TimeSpan duration);
}

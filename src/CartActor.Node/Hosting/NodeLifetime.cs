using CartActor.Persistence.Redis;
using CartActor.Node.Diagnostics;
using CartActor.Node.Membership;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Hosting;

/// <summary>
/// Start and stop order of the node. On SIGTERM: readiness off at once (/readyz 503, health NOT_SERVING)
/// while the node keeps serving normally for <see cref="NodeOptions.DrainDelay"/> (load balancers stop
/// routing meanwhile); then it leaves the ring and sends Closing, and keeps serving, forwarding every call
/// to the carts' new owners, until no call has arrived for a quiet period or the shutdown timeout. Only
/// then does Kestrel stop (in-flight calls finish), and after every hosted service has stopped the carts
/// are evicted with their callbacks. Nothing moves: every acknowledged change is already in the store.
/// </summary>
internal sealed class NodeLifetime(
    CartRuntime runtime,
    NodeReadiness readiness,
    NodeIdentity identity,
    ClusterView view,
    ClusterMembership membership,
    IOptions<NodeOptions> options,
    IOptions<ClusterOptions> clusterOptions,
    TimeProvider time,
    NodeTlsHolder tls,
    ILogger<NodeLifetime> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var cart = runtime.Options;
        NodeLog.Started(
            logger,
            identity.AdvertisedHost,
            $"{o.Bind}:{identity.GrpcPort}",
            $"{o.Bind}:{identity.HttpPort}",
            cart.ShardCount,
            cart.IdleTtl,
            cart.MaxActiveCarts,
            o.MaxMessageSize,
            string.Join(",", o.Seeds));
        if (tls.Tls is { } on)
        {
            NodeLog.TlsOn(logger, on.Describe());
        }

        // --durability governs the embedded store only; a Redis node said "durability fsync" while Redis's own
        // appendfsync and replicas decide what survives there.
        var durability = runtime.Store is null ? "none: carts live in memory only"
            : o.Store == "rocksdb" ? o.Durability
            : "the Redis server's (appendfsync, replicas)";
        // The Redis connection string may carry a password: the log shows its endpoints and options only.
        var where = o.Store == "rocksdb" ? o.DataDir : runtime.Store is RedisCartStore ? RedisConfiguration.Describe(o.Store) : o.Store;
        NodeLog.StoreOpened(logger, runtime.Store?.Name ?? "memory", where, durability);
        if (o.Seeds.Length > 0 && runtime.Store is null)
        {
            NodeLog.MemoryStoreInCluster(logger);
        }

        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.MarkDraining();
        var delay = options.Value.DrainDelay;
        NodeLog.DrainDelay(logger, delay);
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            }

            if (view.Ring.Members.Count <= 1)
            {
                return;
            }

            await membership.LeaveAsync(cancellationToken).ConfigureAwait(false);
            ClusterLog.LeftRing(logger);

            // Clients with an open connection may still send here: forward them until they have moved on.
            var quiet = clusterOptions.Value.PingInterval * 2;
            while (time.GetElapsedTime(readiness.LastRequestAt) < quiet)
            {
                await Task.Delay(quiet / 4, time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The shutdown timeout: stop now; every acknowledged change is already stored.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        var evicted = await runtime.EvictAllAsync(EvictionReason.Shutdown).WaitAsync(cancellationToken).ConfigureAwait(false);
        NodeLog.Stopped(logger, evicted);
    }
}

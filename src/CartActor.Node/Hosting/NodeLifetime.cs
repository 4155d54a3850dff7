using CartActor.Node.Diagnostics;
using CartActor.Node.Membership;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Hosting;

/// <summary>
/// Start and stop order of the node. Ready once Kestrel listens; on SIGTERM readiness drops first (health
/// says NOT_SERVING, load balancers stop routing), Kestrel then stops accepting and lets in-flight calls
/// finish, and only after every hosted service has stopped are the carts evicted with their callbacks.
/// </summary>
internal sealed class NodeLifetime(
    CartRuntime runtime,
    NodeReadiness readiness,
    NodeIdentity identity,
    ClusterView view,
    ClusterMembership membership,
    CartHandoff handoff,
    IOptions<NodeOptions> options,
    IOptions<ClusterOptions> clusterOptions,
    TimeProvider time,
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
        NodeLog.StoreOpened(logger, runtime.Store?.Name ?? "memory", o.Store == "rocksdb" ? o.DataDir : o.Store, runtime.Store is null ? "none: carts live in memory only" : o.Durability);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Runs before Kestrel stops accepting: leave the ring, tell every peer (Closing), point each new owner
    /// at the carts held here, and keep answering their hand-overs for the drain window or until none is left
    /// and every one is confirmed.
    /// </summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.MarkDraining();
        NodeLog.Draining(logger);
        if (view.Ring.Members.Count <= 1)
        {
            return;
        }

        await membership.LeaveAsync(cancellationToken).ConfigureAwait(false);
        await handoff.AnnounceDisplacedAsync(cancellationToken).ConfigureAwait(false);
        var started = time.GetTimestamp();
        var window = clusterOptions.Value.DrainWindow;
        ClusterLog.DrainProgress(logger, runtime.ActiveCarts);
        // Also wait for the new owners' confirmations: until then a handed-over copy stays on this node's disk
        // (a lost reply must not lose the cart), and a restart of this node would find it stale.
        while ((runtime.ActiveCarts > 0 || handoff.AwaitingConfirmation > 0)
               && time.GetElapsedTime(started) < window && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken).ConfigureAwait(false);
        }

        if (handoff.AwaitingConfirmation > 0)
        {
            ClusterLog.DrainUnconfirmed(logger, handoff.AwaitingConfirmation);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        var evicted = await runtime.EvictAllAsync(EvictionReason.Shutdown).WaitAsync(cancellationToken).ConfigureAwait(false);
        NodeLog.Stopped(logger, evicted);
    }
}

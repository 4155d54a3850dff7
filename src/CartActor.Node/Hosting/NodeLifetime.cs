using CartActor.Node.Diagnostics;
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
    IOptions<NodeOptions> options,
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
        readiness.MarkReady();
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.MarkDraining();
        NodeLog.Draining(logger);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        var evicted = await runtime.EvictAllAsync(EvictionReason.Shutdown).WaitAsync(cancellationToken).ConfigureAwait(false);
        NodeLog.Stopped(logger, evicted);
    }
}

using CartActor.Node.Diagnostics;
using CartActor.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Hosting;

/// <summary>
/// Deletes carts untouched for the retention period (default 30 days) from the store, off the request path:
/// started by the node's heartbeat at the first beat and then every <see cref="NodeOptions.RetentionSweepInterval"/>,
/// one sweep at a time, cancelled when the node stops.
/// </summary>
internal sealed class RetentionSweeper(StoreHolder holder, IOptions<NodeOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<RetentionSweeper> logger) : IHeartbeatDuty
{
    private Task _running = Task.CompletedTask;
    private long _lastStarted;
    private bool _started;

    public void OnHeartbeat()
    {
        if (holder.Store is not { } store || !_running.IsCompleted)
        {
            return;
        }

        var o = options.Value;
        if (_started && time.GetElapsedTime(_lastStarted) < o.RetentionSweepInterval)
        {
            return;
        }

        _started = true;
        _lastStarted = time.GetTimestamp();
        _running = SweepAsync(store, o.Retention, lifetime.ApplicationStopping);
    }

    private async Task SweepAsync(ICartStore store, TimeSpan retention, CancellationToken stopping)
    {
        try
        {
            var deleted = await store.DeleteOlderThanAsync(time.GetUtcNow() - retention, stopping).ConfigureAwait(false);
            NodeLog.RetentionSwept(logger, store.Name, deleted, retention);
        }
        catch (CartStoreException ex)
        {
            NodeLog.RetentionFailed(logger, store.Name, ex.Message);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }
}

using CartActor.Node.Diagnostics;
using CartActor.Persistence;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Hosting;

/// <summary>Deletes carts untouched for the retention period (default 30 days) from the store, off the request path.</summary>
internal sealed class RetentionSweeper(StoreHolder holder, IOptions<NodeOptions> options, TimeProvider time, ILogger<RetentionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (holder.Store is not { } store)
        {
            return;
        }

        var o = options.Value;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    var deleted = await store.DeleteOlderThanAsync(time.GetUtcNow() - o.Retention, stoppingToken).ConfigureAwait(false);
                    NodeLog.RetentionSwept(logger, store.Name, deleted, o.Retention);
                }
                catch (CartStoreException ex)
                {
                    NodeLog.RetentionFailed(logger, store.Name, ex.Message);
                }

                await Task.Delay(o.RetentionSweepInterval, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

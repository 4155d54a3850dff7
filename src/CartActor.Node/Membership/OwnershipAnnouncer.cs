using System.Threading.Channels;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Membership;

/// <summary>
/// Tells peers which carts this node activated (AnnounceOwnership) and evicted (AnnounceExpiry), batched
/// per <see cref="ClusterOptions.AnnounceInterval"/>, one RPC per peer per batch. Announcements are hints:
/// when the queue is full they are dropped, never buffered without bound, and never slow a cart down.
/// It keeps a loop of its own rather than being a heartbeat duty (<see cref="IHeartbeatDuty"/>): it sleeps on
/// its queue while nothing happens and batches at 100 ms, a tenth of the heartbeat's 1 s pace, so peers learn
/// of a cart's new home within a batch rather than within a beat.
/// </summary>
internal sealed class OwnershipAnnouncer : BackgroundService, ICartLifecycleObserver
{
    private readonly Channel<(ulong Id, bool Active)> _pending;
    private readonly ClusterView _view;
    private readonly PeerClients _clients;
    private readonly ClusterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<OwnershipAnnouncer> _logger;

    private readonly int _maxIds;

    public OwnershipAnnouncer(ClusterView view, PeerClients clients, IOptions<ClusterOptions> options, IOptions<NodeOptions> node, TimeProvider time, ILogger<OwnershipAnnouncer> logger)
    {
        _maxIds = node.Value.MaxIdsPerAnnouncement;
        _view = view;
        _clients = clients;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _pending = Channel.CreateBounded<(ulong, bool)>(new BoundedChannelOptions(_options.MaxPendingAnnouncements)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });
    }

    public void OnActivated(ulong cartId) => _pending.Writer.TryWrite((cartId, true));

    public void OnEvicted(ulong cartId, CartRecord record, EvictionReason reason) => _pending.Writer.TryWrite((cartId, false));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var activated = new List<ulong>();
        var expired = new List<ulong>();
        try
        {
            while (await _pending.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                await Task.Delay(_options.AnnounceInterval, _time, stoppingToken).ConfigureAwait(false);
                activated.Clear();
                expired.Clear();
                while (_pending.Reader.TryRead(out var item))
                {
                    (item.Active ? activated : expired).Add(item.Id);
                }

                await SendAsync(activated, expired, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SendAsync(List<ulong> activated, List<ulong> expired, CancellationToken cancellationToken)
    {
        var ring = _view.Ring;
        var peers = ring.Members.Where(m => m != ring.Self).ToArray();
        if (peers.Length == 0)
        {
            return;
        }

        // Chunks under the receivers' limit (Node:MaxIdsPerAnnouncement, the same setting on every node).
        var claims = activated.Chunk(_maxIds).Select(ids => new OwnershipAnnounce { Host = ring.Self, Ids = { ids } }).ToArray();
        var expiries = expired.Chunk(_maxIds).Select(ids => new ExpiryAnnounce { Host = ring.Self, Ids = { ids } }).ToArray();

        await Task.WhenAll(peers.Select(async peer =>
        {
            var client = _clients.For(peer);
            var deadline = DateTime.UtcNow + _options.PingTimeout * 2;
            try
            {
                foreach (var claim in claims)
                {
                    await client.AnnounceOwnershipAsync(claim, deadline: deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
                }

                foreach (var expiry in expiries)
                {
                    await client.AnnounceExpiryAsync(expiry, deadline: deadline, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            }
            catch (RpcException ex)
            {
                ClusterLog.AnnounceFailed(_logger, peer, ex.Status.Detail);
            }
        })).ConfigureAwait(false);
    }
}

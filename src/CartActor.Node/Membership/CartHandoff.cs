using System.Collections.Concurrent;
using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Node.Hosting;
using CartActor.Ownership;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Membership;

/// <summary>
/// State moves with ownership. Before a node applies anything to a cart it has just come to own, it takes
/// the cart (state, id counters, idempotency keys) from the node that still holds it: the owner under a
/// recent earlier ring, or the host a peer's announcement names. The holder exports and drops it from
/// memory in one step on the cart's shard, and refuses while it still believes it owns the cart itself, so
/// a cart never has two live histories. A holder with a node-local store keeps its on-disk copy until the
/// new owner confirms it has written the cart (a second Get marked "taken=version"), so a lost reply or a
/// new owner that dies before its write never loses the cart. One take per cart at a time: concurrent first touches wait for the same take.
/// Also pushes the other way: after a ring change, a node announces the carts it holds but no longer owns
/// to their new owners, which take them eagerly.
/// </summary>
public sealed class CartHandoff : BackgroundService
{
    private static readonly Metadata HandoffHeaders = new() { { ForwardingHeaders.Handoff, ForwardingHeaders.Take } };

    private readonly CartRuntime _runtime;
    private readonly ClusterView _view;
    private readonly PeerClients _clients;
    private readonly OwnershipHints _hints;
    private readonly ClusterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<CartHandoff> _logger;
    private readonly ConcurrentDictionary<ulong, Task> _takes = new();

    // Carts handed over from this node's local store whose new owner has not yet confirmed its write
    // (value: when), so the local copy is kept; forgotten after the handoff window.
    private readonly ConcurrentDictionary<ulong, long> _unconfirmed = new();
    private int _warnedLocalStore;
    private readonly SemaphoreSlim _eagerTakes = new(8, 8);
    private readonly System.Threading.Channels.Channel<bool> _ringChanged = System.Threading.Channels.Channel.CreateBounded<bool>(new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });

    public CartHandoff(
        CartRuntime runtime,
        ClusterView view,
        PeerClients clients,
        OwnershipHints hints,
        IOptions<ClusterOptions> options,
        TimeProvider time,
        ILogger<CartHandoff> logger)
    {
        _runtime = runtime;
        _view = view;
        _clients = clients;
        _hints = hints;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Completes once cart <paramref name="cartId"/>'s state is here, if another node held it. Synchronous
    /// (and free) when the cart is live here or no other node can hold it.
    /// </summary>
    public ValueTask EnsureLocalAsync(ulong cartId, CancellationToken cancellationToken)
    {
        if (_runtime.IsActive(cartId))
        {
            return ValueTask.CompletedTask;
        }

        var holders = PossibleHolders(cartId);
        if (holders is null)
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(TakeOnceAsync(cartId, holders).WaitAsync(cancellationToken));
    }

    /// <summary>Serves a new owner's take: export and drop, unless this node still owns the cart in its own view.</summary>
    public async Task<GetReply> HandOverAsync(ulong cartId)
    {
        var ring = _view.Ring;
        if (ring.Lookup(cartId).Kind == OwnerKind.Local)
        {
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"views disagree: {ring.Self} still owns cart {cartId} in its ring {ring.RingId:x16}; retry once views converge"));
        }

        var record = await _runtime.HandOffAsync(cartId).ConfigureAwait(false);
        if (record is null)
        {
            return new GetReply();
        }

        if (_runtime.Store is { IsShared: false })
        {
            _unconfirmed[cartId] = _time.GetTimestamp();
        }

        return new GetReply { Grain = Any.Pack(record) };
    }

    /// <summary>Hand-overs from this node's local store still waiting for their new owner's confirmation.</summary>
    public int AwaitingConfirmation => _unconfirmed.IsEmpty ? 0 : _unconfirmed.Count;

    /// <summary>
    /// The new owner has written a cart handed over from here: drop the local copy. Only for a hand-over
    /// this node made and still awaits, and only while the cart is not this node's own.
    /// </summary>
    public async Task<GetReply> ConfirmTakenAsync(ulong cartId, ulong version)
    {
        if (_view.Ring.Lookup(cartId).Kind != OwnerKind.Local && _unconfirmed.TryRemove(cartId, out _))
        {
            await _runtime.ForgetHandedOffAsync(cartId, version).ConfigureAwait(false);
        }

        return new GetReply();
    }

    /// <summary>A peer announced carts it holds: take at once those this node owns.</summary>
    public void OnAnnounced(string holder, IReadOnlyList<ulong> ids)
    {
        var ring = _view.Ring;
        holder = RingSnapshot.Normalize(holder);
        if (holder == ring.Self || ring.IsLeaving)
        {
            return;
        }

        var mine = ids.Where(id => ring.Lookup(id).Kind == OwnerKind.Local && !_runtime.IsActive(id)).ToArray();
        if (mine.Length > 0)
        {
            _ = TakeEagerlyAsync(holder, mine);
        }
    }

    /// <summary>Tells each new owner which of the carts held here are now theirs.</summary>
    public async Task AnnounceDisplacedAsync(CancellationToken cancellationToken)
    {
        var ring = _view.Ring;
        var byOwner = new Dictionary<string, OwnershipAnnounce>(StringComparer.Ordinal);
        foreach (var id in _runtime.GetLocalCartIds())
        {
            var lookup = ring.Lookup(id);
            if (lookup.Kind == OwnerKind.Local)
            {
                continue;
            }

            if (!byOwner.TryGetValue(lookup.Owner, out var announce))
            {
                announce = new OwnershipAnnounce { Host = ring.Self };
                byOwner[lookup.Owner] = announce;
            }

            announce.Ids.Add(id);
        }

        await Task.WhenAll(byOwner.Select(async pair =>
        {
            try
            {
                await _clients.For(pair.Key).AnnounceOwnershipAsync(pair.Value, deadline: DateTime.UtcNow + _options.HandoffTimeout, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                ClusterLog.AnnounceFailed(_logger, pair.Key, ex.Status.Detail);
            }
        })).ConfigureAwait(false);
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _view.RingChanged += (_, _) =>
        {
            _ringChanged.Writer.TryWrite(true);
            WarnOnceIfClusteredOnLocalStore();
        };
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // After every ring change, and again every negotiate interval for carts whose new owner was not ready yet.
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                wait.CancelAfter(_options.NegotiateInterval);
                try
                {
                    await _ringChanged.Reader.ReadAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                }

                if (!_view.Ring.IsLeaving)
                {
                    await AnnounceDisplacedAsync(stoppingToken).ConfigureAwait(false);
                }

                ForgetStaleConfirmations();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void WarnOnceIfClusteredOnLocalStore()
    {
        if (_view.Ring.Members.Count > 1 && _runtime.Store is { IsShared: false } local && Interlocked.Exchange(ref _warnedLocalStore, 1) == 0)
        {
            NodeLog.NodeLocalStoreInCluster(_logger, local.Name);
        }
    }

    private void ForgetStaleConfirmations()
    {
        foreach (var (cartId, since) in _unconfirmed)
        {
            if (_time.GetElapsedTime(since) > _options.HandoffWindow)
            {
                _unconfirmed.TryRemove(cartId, out _);
            }
        }
    }

    private string[]? PossibleHolders(ulong cartId)
    {
        var map = _view.Map;
        var ring = map.Current;
        List<string>? holders = null;
        if (_hints.TryGetOwner(cartId, out var hinted) && hinted != ring.Self)
        {
            (holders ??= []).Add(hinted);
        }

        // Who owned the cart before this node was in the ring: the holder after a join.
        if (ring.WithoutSelf is { } without && _time.GetElapsedTime(ring.PublishedAt) <= _options.HandoffWindow)
        {
            var previous = without.OwnerOf(cartId);
            if (holders is null || !holders.Contains(previous))
            {
                (holders ??= []).Add(previous);
            }
        }

        var supersededAt = ring.PublishedAt;
        foreach (var earlier in map.History)
        {
            if (_time.GetElapsedTime(supersededAt) > _options.HandoffWindow)
            {
                break;
            }

            var owner = earlier.OwnerOf(cartId);
            if (owner != ring.Self && (holders is null || !holders.Contains(owner)))
            {
                (holders ??= []).Add(owner);
            }

            supersededAt = earlier.PublishedAt;
        }

        return holders?.ToArray();
    }

    private Task TakeOnceAsync(ulong cartId, string[] holders)
    {
        if (_takes.TryGetValue(cartId, out var running))
        {
            return running;
        }

        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_takes.TryAdd(cartId, mine.Task))
        {
            return _takes.TryGetValue(cartId, out running) ? running : TakeOnceAsync(cartId, holders);
        }

        _ = RunTakeAsync(cartId, holders, mine);
        return mine.Task;
    }

    private async Task RunTakeAsync(ulong cartId, string[] holders, TaskCompletionSource done)
    {
        try
        {
            await TakeAsync(cartId, holders).ConfigureAwait(false);
            done.SetResult();
        }
        catch (Exception ex)
        {
            done.SetException(ex);
        }
        finally
        {
            _takes.TryRemove(cartId, out _);
        }
    }

    private async Task TakeAsync(ulong cartId, string[] holders)
    {
        foreach (var holder in holders)
        {
            if (_runtime.IsActive(cartId))
            {
                return;
            }

            if (_view.IsDead(holder))
            {
                ClusterLog.HolderGone(_logger, cartId, holder);
                continue;
            }

            GetReply reply;
            try
            {
                reply = await _clients.For(holder)
                    .GetAsync(new GetRequest { Id = cartId }, HandoffHeaders, DateTime.UtcNow + _options.HandoffTimeout)
                    .ConfigureAwait(false);
            }
            catch (RpcException ex) when (!IsLiveHolder(holder))
            {
                // The holder is no member any more (it crashed and was removed): what it held is gone with it.
                ClusterLog.HolderGone(_logger, cartId, holder);
                _ = ex;
                continue;
            }
            catch (RpcException ex)
            {
                throw new RpcException(new Status(StatusCode.Unavailable,
                    $"cart {cartId} is still held by {holder}, which could not hand it over ({ex.StatusCode}: {ex.Status.Detail}); retry"));
            }

            if (reply.Grain is { } grain && grain.Is(CartRecord.Descriptor))
            {
                var record = grain.Unpack<CartRecord>();
                if (record.State?.Id == cartId)
                {
                    await _runtime.ImportAsync(record).ConfigureAwait(false);
                    ClusterLog.CartTaken(_logger, cartId, record.State.Version, holder);
                    _ = SendTakenAsync(holder, cartId, record.State.Version);
                    return;
                }
            }
        }
    }

    /// <summary>Tells the holder the cart is written here, so it drops its copy; off the request path.</summary>
    private async Task SendTakenAsync(string holder, ulong cartId, ulong version)
    {
        try
        {
            var confirm = new Metadata { { ForwardingHeaders.Handoff, ForwardingHeaders.Taken(version) } };
            await _clients.For(holder)
                .GetAsync(new GetRequest { Id = cartId }, confirm, DateTime.UtcNow + _options.HandoffTimeout)
                .ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            ClusterLog.TakeNotConfirmed(_logger, cartId, holder, ex.Status.Detail);
        }
    }

    private bool IsLiveHolder(string holder)
    {
        // A member (alive or suspect) may still hold the cart; so may a node that is draining after Closing,
        // which answers hand-overs until it exits, but then its failure means it has gone.
        return _view.Ring.Contains(holder);
    }

    private async Task TakeEagerlyAsync(string holder, ulong[] ids)
    {
        foreach (var id in ids)
        {
            await _eagerTakes.WaitAsync().ConfigureAwait(false);
            try
            {
                if (_view.Ring.Lookup(id).Kind == OwnerKind.Local)
                {
                    await TakeOnceAsync(id, [holder]).ConfigureAwait(false);
                }
            }
            catch (RpcException)
            {
                // The holder still disagrees; a later announcement or the first touch retries.
            }
            finally
            {
                _eagerTakes.Release();
            }
        }
    }

    public override void Dispose()
    {
        _eagerTakes.Dispose();
        base.Dispose();
    }
}

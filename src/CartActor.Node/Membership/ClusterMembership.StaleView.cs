using CartActor.Node.Diagnostics;
using CartActor.Ownership;

namespace CartActor.Node.Membership;

/// <summary>Freshness of this node's view: stale-view recovery after a pause, refresh on a peer's refusal, and dropping carts a new ring no longer gives this node.</summary>
internal sealed partial class ClusterMembership
{
    /// <summary>A peer answered a request sent at <paramref name="sentAt"/>: the view is current until then plus the stale time (never moved back).</summary>
    private void RenewFreshness(long sentAt)
    {
        var until = sentAt + _staleAfterTicks;
        while (true)
        {
            var current = Volatile.Read(ref _freshUntil);
            if (current >= until && current != long.MaxValue)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _freshUntil, until, current) == current)
            {
                return;
            }
        }
    }

    /// <summary>
    /// True when no peer has answered this node for longer than the suspect time (it was paused, or cut
    /// off): peers may have served its carts meanwhile, so its cached copies cannot be trusted. One
    /// timestamp compare; always false for a node without peers.
    /// </summary>
    public bool IsViewStale()
    {
        var until = Volatile.Read(ref _freshUntil);
        return until != long.MaxValue && !_leaving && _time.GetTimestamp() > until;
    }

    /// <summary>
    /// After a stale view: drops every cached cart (the store has the truth) and refreshes the view before
    /// anything is served. Concurrent callers share one recovery.
    /// </summary>
    public Task RecoverStaleViewAsync(CancellationToken cancellationToken)
    {
        Task running;
        lock (_gate)
        {
            if (_recovery is null || _recovery.IsCompleted)
            {
                _recovery = Task.Run(RecoverAsync, CancellationToken.None);
            }

            running = _recovery;
        }

        return running.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// A peer's refusal showed another ring: refresh this node's view, unless it has already moved past
    /// <paramref name="seenEpoch"/>. Concurrent callers share one round (one heartbeat tick, not one each).
    /// </summary>
    public Task RefreshAsync(long seenEpoch, CancellationToken cancellationToken)
    {
        if (_view.Map.Current.Epoch > seenEpoch || _leaving)
        {
            return Task.CompletedTask;
        }

        Task running;
        lock (_gate)
        {
            if (_refresh is null || _refresh.IsCompleted)
            {
                _refresh = Task.Run(() => TickAsync(forceNegotiate: true, awaitNegotiation: true, CancellationToken.None), CancellationToken.None);
            }

            running = _refresh;
        }

        return running.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// On every ring change, before this node serves under the new ring: drop the carts it no longer serves.
    /// The drop is queued on every shard at once, behind the work already there, so no Apply admitted under
    /// the new ring runs on a copy the old ring left behind (and older ones are fenced by the store).
    /// </summary>
    private void DropNotServed() =>
        _ = _runtime.EvictWhereAsync(id => _view.Map.Lookup(id).Kind != OwnerKind.Local, EvictionReason.NotOwned);

    private async Task RecoverAsync()
    {
        // The peers may have removed this node while it was away: serve nothing of its own until they count it again.
        lock (_gate)
        {
            _selfConfirmed = false;
            PublishLocked();
        }

        var dropped = await _runtime.EvictAllAsync(EvictionReason.StaleView).ConfigureAwait(false);
        ClusterLog.StaleViewDropped(_logger, dropped);
        await TickAsync(forceNegotiate: true, awaitNegotiation: true, CancellationToken.None).ConfigureAwait(false);
        Volatile.Write(ref _freshUntil, _time.GetTimestamp() + _staleAfterTicks);
    }
}

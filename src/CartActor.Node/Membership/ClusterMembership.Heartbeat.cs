using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using Grpc.Core;

namespace CartActor.Node.Membership;

/// <summary>The heartbeat: the loop that ticks every ping interval (or when kicked), one tick's steps, joining and leaving.</summary>
internal sealed partial class ClusterMembership
{
    /// <summary>True once the first view has converged; until then Ping answers UNAVAILABLE so nobody hands carts to a half-joined node.</summary>
    public bool IsJoined => _joined && !_leaving;

    public bool IsLeaving => _leaving;

    /// <summary>Graceful stop: leave our own ring (we own nothing from now on) and tell every peer.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        _leaving = true;
        Volatile.Write(ref _freshUntil, long.MaxValue);
        var ring = _view.Map.Leave(_time.GetTimestamp());
        var notice = new ClosingNotice { Host = _view.Self };
        var peers = ring.Members.Where(m => m != _view.Self).ToArray();
        await Task.WhenAll(peers.Select(async peer =>
        {
            try
            {
                await _clients.For(peer).ClosingAsync(notice, deadline: DateTime.UtcNow + _options.PingTimeout * 2, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                ClusterLog.ClosingNotDelivered(_logger, peer, ex.Status.Detail);
            }
            catch (ObjectDisposedException ex)
            {
                // The peer's channel was disposed meanwhile (it was forgotten or closed itself).
                ClusterLog.ClosingNotDelivered(_logger, peer, ex.Message);
            }
        })).ConfigureAwait(false);
    }

    Task IHostedLifecycleService.StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StartedAsync(CancellationToken cancellationToken)
    {
        // A node without seeds is a whole cluster at once.
        if (_node.Seeds.Length == 0)
        {
            MarkJoined();
        }

        return Task.CompletedTask;
    }

    Task IHostedLifecycleService.StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The heartbeat loop. A failing step (a tick that met a peer channel disposed under it, a duty that broke its
    /// never-throw rule) is logged and the loop goes on: an exception leaving this method would stop the whole
    /// host (BackgroundService's default), and a node must not die for one bad beat. Only shutdown ends it.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Kestrel binds after hosted services start: wait until our own address is known.
        await Task.Delay(Timeout.Infinite, _lifetime.ApplicationStarted).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        if (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        var joinDeadline = _time.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Volatile.Write(ref _lastBeatAt, _time.GetTimestamp());
                Interlocked.Increment(ref _beats);
                var learntBefore = PeerCount();
                try
                {
                    // Joined, the heartbeat does not wait for its Negotiate round: pings keep their pace (they are
                    // what keeps this node's view fresh) while a slow peer takes its time to answer Negotiate.
                    await TickAsync(forceNegotiate: !_joined, awaitNegotiation: !_joined, stoppingToken).ConfigureAwait(false);
                    if (!_joined && (ConvergedSince(learntBefore) || _time.GetElapsedTime(joinDeadline) > _options.DeadAfter))
                    {
                        MarkJoined();
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    HeartbeatStepFailed("tick", ex);
                }

                // The node's other timed work rides on this beat (idle TTL, retention, the store-health poll).
                foreach (var duty in _duties)
                {
                    try
                    {
                        duty.OnHeartbeat();
                    }
                    catch (Exception ex)
                    {
                        HeartbeatStepFailed(duty.GetType().Name, ex);
                    }
                }

                var kick = Volatile.Read(ref _kick);
                await Task.WhenAny(Task.Delay(_options.PingInterval, _time, stoppingToken), kick.Task).ConfigureAwait(false);
                if (kick.Task.IsCompleted)
                {
                    Interlocked.CompareExchange(ref _kick, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), kick);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// One heartbeat round: pings, the view they imply, and a Negotiate round when one is due. The Negotiate runs
    /// outside the tick lock (shared with any round already in flight) and is awaited only when
    /// <paramref name="awaitNegotiation"/>: a Negotiate may take up to twice the ping timeout, and a heartbeat held
    /// behind it (or a refresh's tick held behind one) let the view go stale without any pause: on a loaded
    /// 3-node cluster (ping 0.2 s, timeout 0.5 s: stale after 1.6 s) a round took 0.5 s of pings + 1 s of
    /// Negotiate + 0.2 s, every node then dropped all its carts and unconfirmed itself, and forwards ran out of time.
    /// </summary>
    private async Task TickAsync(bool forceNegotiate, bool awaitNegotiation, CancellationToken cancellationToken)
    {
        if (_leaving)
        {
            return;
        }

        Task? negotiation = null;
        await _tickLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A node that knows no peer resolves its seeds every negotiate interval, not every 30 s: nodes started
            // together refuse each other's pings while joining, forget each other after the dead-after time and
            // each join alone; without this they stayed one-node clusters until the next resolve (seen: 26 s).
            var seedsDue = _lastSeedResolve == 0
                || _time.GetElapsedTime(_lastSeedResolve) >= (PeerCount() == 0 ? _options.NegotiateInterval : _options.SeedResolveInterval);
            if (_node.Seeds.Length > 0 && seedsDue)
            {
                _lastSeedResolve = _time.GetTimestamp();
                Learn(await ResolveSeedsAsync(cancellationToken).ConfigureAwait(false));
            }

            string[] peers;
            lock (_gate)
            {
                peers = _peers.Hosts;
            }

            // Freshness counts from when the pings left, not from when their answers were read: a node frozen
            // (SIGSTOP, a long GC) with pings in flight reads their pre-pause answers first thing on waking, and
            // must still find its view stale (the chaos pause test read stale carts through it before this).
            var sentAt = _time.GetTimestamp();
            var replies = await Task.WhenAll(peers.Select(p => PingAsync(p, cancellationToken))).ConfigureAwait(false);
            if (peers.Length == 0)
            {
                Volatile.Write(ref _freshUntil, long.MaxValue);
            }
            else if (replies.Any(r => r is not null))
            {
                RenewFreshness(sentAt);
            }
            else if (Volatile.Read(ref _freshUntil) == long.MaxValue)
            {
                // Peers known, none answering yet: the clock starts now.
                Volatile.Write(ref _freshUntil, _time.GetTimestamp() + _staleAfterTicks);
            }

            bool changed;
            lock (_gate)
            {
                changed = ApplyPingResults(peers, replies);
                if (changed)
                {
                    PublishLocked();
                }
            }

            if (changed || forceNegotiate || !_selfConfirmed || _lastNegotiate == 0 || _time.GetElapsedTime(_lastNegotiate) >= _options.NegotiateInterval)
            {
                _lastNegotiate = _time.GetTimestamp();
                negotiation = NegotiateSharedAsync(cancellationToken);
            }
        }
        finally
        {
            _tickLock.Release();
        }

        if (awaitNegotiation && negotiation is not null)
        {
            await negotiation.ConfigureAwait(false);
        }
    }

    /// <summary>Starts a Negotiate round unless one is in flight; either way returns the round in flight.</summary>
    private Task NegotiateSharedAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_negotiation is null || _negotiation.IsCompleted)
            {
                _negotiation = Task.Run(async () =>
                {
                    try
                    {
                        await NegotiateAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        // Stopping: nobody waits for this round.
                    }
                }, CancellationToken.None);
            }

            return _negotiation;
        }
    }

    private void MarkJoined()
    {
        if (_joined)
        {
            return;
        }

        _joined = true;
        ClusterLog.Joined(_logger, _view.Self, _view.Ring.Members.Count);
        if (!_leaving)
        {
            _readiness.MarkJoined();
        }
    }

    private void Kick() => Volatile.Read(ref _kick).TrySetResult();
}

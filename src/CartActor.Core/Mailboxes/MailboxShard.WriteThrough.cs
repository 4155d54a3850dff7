using System.Diagnostics;
using CartActor.Diagnostics;
using CartActor.Grains;
using CartActor.Packing;
using CartActor.Persistence;
using Microsoft.Extensions.ObjectPool;

namespace CartActor.Mailboxes;

/// <summary>
/// Write-through (only with a store), pipelined: every cart a pass changed goes out as one batch, and the
/// next pass applies in memory while that write is in flight, up to
/// <see cref="CartRuntimeOptions.MaxWritesInFlightPerShard"/> writes. Passes settle strictly in issue order:
/// an Apply is answered only after its own write and every earlier write of the shard landed. A write that
/// fails (unknown outcome) fails every later pass too, with the same retryable error, and drops the carts
/// they touched. A write that loses its compare-and-set (another node wrote the cart meanwhile) is not the
/// caller's problem: the cart is dropped, and once every later write of it has settled (they lose too: they
/// are chained on the lost one) its batches are re-applied in their original order on a fresh load, at most
/// <see cref="MaxConflictRetries"/> times, then ABORTED.
/// A Get or WatchCart may see a state whose write is still in flight, as it could before pipelining (the
/// shard publishes a state when it applies it); an Apply's answer never does.
/// </summary>
internal sealed partial class MailboxShard
{
    /// <summary>Re-applies of one batch after lost compare-and-sets before the caller gets Conflict (ABORTED).</summary>
    internal const int MaxConflictRetries = 3;

    // The pass being built: carts it changed and the Applies whose answers wait for its write (or for earlier writes).
    private readonly Dictionary<ulong, CartGrain> _dirty = new();
    private List<(ApplyWork Work, ApplyOutcome Outcome)> _unacknowledged = new();

    // Issued passes in issue order: a ring of reusable passes, created on first use.
    private WritePass?[] _inFlight = [];
    private int _inFlightHead;
    private int _inFlightCount;

    // Recovery after a failed or conflicted write: no new work and no new write until every write issued
    // before it settled; then the pass built meanwhile is failed or re-applied, and _reapply runs in order.
    private bool _recovering;
    private Exception? _poison;
    private readonly HashSet<ulong> _rolledBack = new();
    private readonly List<ApplyWork> _reapply = new();

    // The spans of the Applies a traced write acknowledges; created on the first traced write.
    private List<ActivityContext>? _writeCallers;

    // Set while a pass waits at the back of the thread pool for its write (shard-only).
    private bool _flushDeferred;

    // A settled pass's successful answers, handed to the pool in one item (shard-only until delivered).
    private readonly ObjectPool<PassAnswers> _answersPool = new DefaultObjectPool<PassAnswers>(new PassAnswers.Policy(), 16);
    private List<(ApplyWork Work, ApplyOutcome Outcome)> _answers = new();

    internal long Now() => _context.Time.GetTimestamp();

    private bool HasPassToIssue => _dirty.Count > 0 || _unacknowledged.Count > 0;

    /// <summary>
    /// Answers an Apply now, or with the pass being built: when its cart has an unwritten change, or when any
    /// write of the shard is still in flight (its answer may show that write's state, and an answer waits for
    /// every earlier write).
    /// </summary>
    internal void Acknowledge(ApplyWork work, ApplyOutcome outcome)
    {
        if (_inFlightCount > 0 || _dirty.ContainsKey(work.CartId))
        {
            _unacknowledged.Add((work, outcome));
        }
        else
        {
            work.Succeed(outcome);
        }
    }

    /// <summary>
    /// Whether <paramref name="work"/> must wait for the writes in flight (or for the pass being built to be
    /// issued) before it runs: while recovering; when the ring is full and a pass is already built (back-pressure:
    /// the queue fills and refuses, as before pipelining); and for anything that may load a cart or drop one (an
    /// Apply of a cart that is not live, control work such as sweeps, hand-offs and shutdown), so a load never
    /// reads a record older than a write in flight.
    /// </summary>
    private bool MustWaitForWrites(ShardWork work)
    {
        if (_inFlightCount == 0)
        {
            // Control work (sweeps, ring-change drops, a stale view's drop, a read that loads) may evict or load a
            // cart whose change this pass has not written yet: a reload would read the record before that change
            // and a later Apply would overwrite it, acknowledged but lost. The run loop issues the pass first; the
            // work then waits for its write (the checks below).
            return HasPassToIssue && work is not ApplyWork;
        }

        if (_recovering || (_inFlightCount == _maxWritesInFlight && HasPassToIssue))
        {
            return true;
        }

        return work is not ApplyWork apply || !_grains.ContainsKey(apply.CartId);
    }

    /// <summary>
    /// Called off the shard when a write lands: takes the shard if it is idle to settle the pass. On a pool thread
    /// (both stores complete there: the Redis client's continuation, the RocksDB committer's hand-off) the shard
    /// runs right here: queueing it again would send the landing through the back of the pool's queue a second
    /// time, behind every request received meanwhile, while the pass's callers wait. On any other thread (a
    /// store's own I/O thread) it is queued, so no shard work ever runs there.
    /// </summary>
    internal void WakeForLanding()
    {
        // Pairs with the run loop's exchange to Idle and its re-check of the landed head: one of the two sees the other.
        if (Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
        {
            if (Thread.CurrentThread.IsThreadPoolThread)
            {
                Drain();
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }
    }

    /// <summary>True when the oldest write in flight has landed (read after the shard went idle: its fields are stable then).</summary>
    private bool HeadLanded() => _inFlightCount > 0 && _inFlight[_inFlightHead]!.IsLanded;

    /// <summary>
    /// Group commit: when other work is waiting for the thread pool (requests already received, most of them
    /// Applies about to queue here), the pass yields once, at the back of the pool's queue, instead of writing
    /// now; the Applies that queue meanwhile run in the same pass and share its one write (one WAL append, one
    /// sync, one Redis round trip). Measured under h2load with <c>--durability os</c> on one core: without it
    /// every write carried 1.0 Apply and the write path was a quarter of the node's CPU; fsync mode batched
    /// 7.4 Applies per write only because its sync kept the shard busy. An idle pool writes at once, on the
    /// caller's thread: no hop and no added latency for a lone caller. At most one deferral per write, so a
    /// pass waits behind the work queued when it yielded, never longer.
    /// </summary>
    private bool TryDeferFlush()
    {
        if (_flushDeferred || ThreadPool.PendingWorkItemCount == 0)
        {
            _flushDeferred = false;
            return false;
        }

        _flushDeferred = true;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    /// <summary>
    /// Issues the pass built so far as one write (the caller checked there is room in the ring). A pass with
    /// nothing to write (only answers waiting behind earlier writes) takes a slot too, and lands at once, so it
    /// settles in order. Never throws: a store that throws lands the pass as failed.
    /// </summary>
    private void IssuePass()
    {
        if (_inFlight.Length == 0)
        {
            _inFlight = new WritePass?[_maxWritesInFlight];
        }

        var slot = (_inFlightHead + _inFlightCount) % _inFlight.Length;
        var pass = _inFlight[slot] ??= new WritePass(this);
        foreach (var grain in _dirty.Values)
        {
            // Chained on this copy's own write still in flight: the store must find that write, tag and all.
            var chained = grain.WrittenVersion != grain.PersistedVersion;
            pass.Writes.Add(new CartWrite(grain.Id, grain.Record, grain.WrittenVersion, grain.WriterTag, chained ? grain.WriterTag : 0));
            pass.Carts.Add((grain, grain.Version));
            grain.WrittenVersion = grain.Version;
        }

        (pass.Unacknowledged, _unacknowledged) = (_unacknowledged, pass.Unacknowledged);
        _dirty.Clear();
        _inFlightCount++;
        pass.IssuedAt = Now();
        if (pass.Writes.Count == 0)
        {
            pass.LandEmpty(pass.IssuedAt);
            return;
        }

        var store = _context.Store!;
        pass.Span = CartTracing.Source.HasListeners() ? StartWriteSpan(store.Name, pass) : null;
        try
        {
            pass.Track(store.WriteAsync(pass.Writes));
        }
        catch (Exception ex)
        {
            pass.Fail(ex, Now());
        }
    }

    /// <summary>Settles every landed pass at the head of the ring, in issue order; finishes a recovery once the ring is empty.</summary>
    private void SettleLandedWrites()
    {
        while (_inFlightCount > 0 && _inFlight[_inFlightHead]!.IsLanded)
        {
            var pass = _inFlight[_inFlightHead]!;
            _inFlightHead = (_inFlightHead + 1) % _inFlight.Length;
            _inFlightCount--;
            Settle(pass);
            pass.Reset();
        }

        if (_recovering && _inFlightCount == 0)
        {
            FinishRecovery();
        }
    }

    private void Settle(WritePass pass)
    {
        var store = _context.Store!;
        Exception? failure = pass.Failure is null ? null : Unconfirmed(store, pass.Failure);
        if (pass.Writes.Count > 0)
        {
            _context.Metrics.StoreWritten(store.Name, _context.Time.GetElapsedTime(pass.IssuedAt, pass.LandedAt), pass.Writes.Count, pass.Conflicts.Count, failure is not null);
            if (pass.Span is not null)
            {
                CartTracing.EndStoreWrite(pass.Span, pass.Conflicts.Count, failure);
            }
        }

        failure = _poison ?? failure;
        if (failure is not null)
        {
            // Unknown outcome: nothing of this pass, nor of any later one, is acknowledged. The carts are dropped
            // (their stored record is the last acknowledged state, or the write landed after all), and a caller
            // that retries with the same idempotency key is applied exactly once either way.
            _poison = failure;
            _recovering = true;
            foreach (var (grain, _) in pass.Carts)
            {
                RollBack(grain);
            }

            foreach (var (work, outcome) in pass.Unacknowledged)
            {
                outcome.Dispose();
                work.Fail(failure);
            }

            return;
        }

        var conflicts = pass.Conflicts;
        foreach (var (grain, version) in pass.Carts)
        {
            if (conflicts.Count == 0 || !conflicts.Contains(grain.Id))
            {
                grain.PersistedVersion = version;
            }
            else
            {
                RollBack(grain);
                _rolledBack.Add(grain.Id);
                _recovering = true;
            }
        }

        foreach (var (work, outcome) in pass.Unacknowledged)
        {
            if (_rolledBack.Count > 0 && _rolledBack.Contains(work.CartId))
            {
                // Applied on a copy that lost its compare-and-set here or in an earlier pass: re-apply later.
                outcome.Dispose();
                Reapply(work);
            }
            else
            {
                _answers.Add((work, outcome));
            }
        }

        if (_answers.Count == 1)
        {
            // A lone Apply, often still inside its own ApplyAsync on this thread (an os write lands at once): completing
            // it here lets that call return completed, with no hop at all.
            var (work, outcome) = _answers[0];
            _answers.Clear();
            work.Succeed(outcome);
        }
        else if (_answers.Count > 1 && _context.Options.InlinePassAnswers)
        {
            _answers = _answersPool.Get().Deliver(_answersPool, _answers);
        }
        else if (_answers.Count > 1)
        {
            // Each caller's continuation is dispatched to the pool on its own: one may block on another's answer.
            foreach (var (work, outcome) in _answers)
            {
                work.Succeed(outcome);
            }

            _answers.Clear();
        }
    }

    /// <summary>
    /// Every write issued before the failure or conflict has settled: settles the pass built meanwhile (failed
    /// after a failure; its batches on dropped carts re-applied after a conflict), then re-applies the conflicted
    /// batches in their original order on copies loaded afresh (no write is in flight, so the loads are current).
    /// They make their carts dirty again and the run loop writes them as a new pass.
    /// </summary>
    private void FinishRecovery()
    {
        var poison = _poison;
        if (poison is not null)
        {
            foreach (var grain in _dirty.Values)
            {
                RollBack(grain);
            }

            _dirty.Clear();
            foreach (var (work, outcome) in _unacknowledged)
            {
                outcome.Dispose();
                work.Fail(poison);
            }

            _unacknowledged.Clear();
        }
        else
        {
            foreach (var id in _rolledBack)
            {
                _dirty.Remove(id);
            }

            var kept = 0;
            for (var i = 0; i < _unacknowledged.Count; i++)
            {
                var (work, outcome) = _unacknowledged[i];
                if (_rolledBack.Contains(work.CartId))
                {
                    outcome.Dispose();
                    Reapply(work);
                }
                else
                {
                    _unacknowledged[kept++] = (work, outcome);
                }
            }

            _unacknowledged.RemoveRange(kept, _unacknowledged.Count - kept);
        }

        _poison = null;
        _recovering = false;
        _rolledBack.Clear();
        foreach (var work in _reapply)
        {
            work.Execute(this);
        }

        _reapply.Clear();
    }

    private void Reapply(ApplyWork work)
    {
        if (work.ConflictRetries < MaxConflictRetries)
        {
            // The write was refused, so nothing of this batch is stored: re-applying it is safe, and a keyed
            // batch that another attempt already stored replays from the record's window.
            work.ConflictRetries++;
            _reapply.Add(work);
        }
        else
        {
            work.Fail(new CartRuntimeException(CartRequestError.Conflict, $"cart {work.CartId} kept changing on another node ({MaxConflictRetries} re-applies lost the compare-and-set); nothing was applied, retry"));
        }
    }

    /// <summary>Drops a copy whose stored state is unknown or stale, unless it is gone already.</summary>
    private void RollBack(CartGrain grain)
    {
        if (_grains.TryGetValue(grain.Id, out var live) && ReferenceEquals(live, grain))
        {
            Evict(grain, EvictionReason.Rollback);
        }
    }

    private static CartRuntimeException Unconfirmed(ICartStore store, Exception ex) =>
        new(CartRequestError.StoreUnavailable, $"the {store.Name} store did not confirm the write ({ex.Message}); nothing was acknowledged, retry with the same idempotency key", ex);

    /// <summary>The write's span, parented on the traced Applies waiting for it (only called while tracing).</summary>
    private Activity? StartWriteSpan(string store, WritePass pass)
    {
        var callers = _writeCallers ??= [];
        callers.Clear();
        foreach (var (work, _) in pass.Unacknowledged)
        {
            if (work.Caller != default)
            {
                callers.Add(work.Caller);
            }
        }

        return CartTracing.StartStoreWrite(store, pass.Writes.Count, callers);
    }
}

using System.Diagnostics;
using CartActor.Diagnostics;
using CartActor.Grains;
using CartActor.Packing;
using CartActor.Persistence;

namespace CartActor.Mailboxes;

/// <summary>
/// Write-through (only with a store): every cart a pass changed is written as one batch before the Applies
/// of that pass are answered. A write that loses its compare-and-set (another node wrote the cart meanwhile)
/// is not the caller's problem: the cart is dropped, reloaded and the waiting batches re-applied on the
/// stored state, at most <see cref="MaxConflictRetries"/> times, then ABORTED.
/// </summary>
internal sealed partial class MailboxShard
{
    /// <summary>Re-applies of one batch after lost compare-and-sets before the caller gets Conflict (ABORTED).</summary>
    internal const int MaxConflictRetries = 3;

    // Carts changed in this pass, the Applies whose answers wait for the write, and the batch being written.
    private readonly Dictionary<ulong, CartGrain> _dirty = new();
    private readonly List<(ApplyWork Work, ApplyOutcome Outcome)> _unacknowledged = new();
    private readonly List<CartWrite> _writes = new();
    private readonly List<ApplyWork> _reapply = new();

    // The spans of the Applies a traced write acknowledges; created on the first traced write.
    private List<ActivityContext>? _writeCallers;

    // Set while a pass waits at the back of the thread pool for its write (shard-only).
    private bool _flushDeferred;

    /// <summary>Answers an Apply now, or after this pass's write when its cart has an unwritten change.</summary>
    internal void Acknowledge(ApplyWork work, ApplyOutcome outcome)
    {
        if (_dirty.ContainsKey(work.CartId))
        {
            _unacknowledged.Add((work, outcome));
        }
        else
        {
            work.Succeed(outcome);
        }
    }

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
    /// Writes every cart this pass changed as one batch, then answers the Applies that waited for it. A
    /// failed write acknowledges nothing: the changed carts are dropped from memory (their stored record
    /// is still the last acknowledged state, or the write landed after all: the outcome is unknown) and
    /// their callers get a retryable error; a caller that retries with the same idempotency key is applied
    /// exactly once either way. Conflicted batches are re-applied on a fresh load. Never throws.
    /// </summary>
    private async ValueTask FlushAsync()
    {
        var store = _context.Store!;
        _writes.Clear();
        foreach (var grain in _dirty.Values)
        {
            _writes.Add(new CartWrite(grain.Id, grain.Record, grain.PersistedVersion, grain.WriterTag));
        }

        IReadOnlyCollection<ulong> conflicts;
        Exception? failure = null;
        var span = CartTracing.Source.HasListeners() ? StartWriteSpan(store.Name) : null;
        var started = _context.Time.GetTimestamp();
        try
        {
            var write = store.WriteAsync(_writes);
            conflicts = write.IsCompletedSuccessfully ? write.Result : await write.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            conflicts = [];
            failure = new CartRuntimeException(CartRequestError.StoreUnavailable, $"the {store.Name} store did not confirm the write ({ex.Message}); nothing was acknowledged, retry with the same idempotency key", ex);
        }

        _context.Metrics.StoreWritten(store.Name, _context.Time.GetElapsedTime(started), _writes.Count, conflicts.Count, failure is not null);
        if (span is not null)
        {
            CartTracing.EndStoreWrite(span, conflicts.Count, failure);
        }

        foreach (var grain in _dirty.Values)
        {
            if (failure is null && !conflicts.Contains(grain.Id))
            {
                grain.PersistedVersion = grain.Version;
            }
            else if (_grains.TryGetValue(grain.Id, out var live) && ReferenceEquals(live, grain))
            {
                Evict(grain, EvictionReason.Rollback);
            }
        }

        foreach (var (work, outcome) in _unacknowledged)
        {
            if (failure is not null)
            {
                outcome.Dispose();
                work.Fail(failure);
            }
            else if (conflicts.Contains(work.CartId))
            {
                outcome.Dispose();
                if (work.ConflictRetries < MaxConflictRetries)
                {
                    // The write was refused, so nothing of this batch is stored: re-applying it is safe, and a
                    // keyed batch that another attempt already stored replays from the record's window.
                    work.ConflictRetries++;
                    _reapply.Add(work);
                }
                else
                {
                    work.Fail(new CartRuntimeException(CartRequestError.Conflict, $"cart {work.CartId} kept changing on another node ({MaxConflictRetries} re-applies lost the compare-and-set); nothing was applied, retry"));
                }
            }
            else
            {
                work.Succeed(outcome);
            }
        }

        _dirty.Clear();
        _unacknowledged.Clear();
        _writes.Clear();

        // In their original order, on a copy loaded afresh from the store; they make their carts dirty again
        // and the run loop writes them before it goes idle.
        foreach (var work in _reapply)
        {
            work.Execute(this);
        }

        _reapply.Clear();
    }

    /// <summary>The write's span, parented on the traced Applies waiting for it (only called while tracing).</summary>
    private Activity? StartWriteSpan(string store)
    {
        var callers = _writeCallers ??= [];
        callers.Clear();
        foreach (var (work, _) in _unacknowledged)
        {
            if (work.Caller != default)
            {
                callers.Add(work.Caller);
            }
        }

        return CartTracing.StartStoreWrite(store, _writes.Count, callers);
    }
}

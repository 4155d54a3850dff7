using System.Diagnostics;
using System.Runtime.CompilerServices;
using CartActor.Grains;
using CartActor.Packing;
using CartActor.Persistence;

namespace CartActor.Mailboxes;

/// <summary>
/// One shard pass whose store write was issued: the carts it wrote (and the version each write carries), the
/// Applies whose answers wait for it, and the write's result once it lands. Owned by its shard, which reuses
/// it once it has settled the pass; only the landing (<see cref="OnLanded"/>) runs off the shard, and it
/// touches nothing but the result fields before it publishes <see cref="IsLanded"/>.
/// </summary>
internal sealed class WritePass
{
    private static readonly IReadOnlyCollection<ulong> NoConflicts = Array.Empty<ulong>();

    private readonly MailboxShard _shard;
    private readonly Action _onLanded;
    private ConfiguredValueTaskAwaitable<IReadOnlyCollection<ulong>>.ConfiguredValueTaskAwaiter _pending;
    private bool _landed;

    public WritePass(MailboxShard shard)
    {
        _shard = shard;
        _onLanded = OnLanded;
    }

    /// <summary>Each written cart and the version its record had when the write was issued.</summary>
    public List<(CartGrain Grain, ulong Version)> Carts { get; } = new();

    /// <summary>The batch handed to the store (the store may read the list until the write lands).</summary>
    public List<CartWrite> Writes { get; } = new();

    /// <summary>Applies answered when this pass settles (swapped in from the shard's list, so no copy).</summary>
    public List<(ApplyWork Work, ApplyOutcome Outcome)> Unacknowledged { get; set; } = new();

    public IReadOnlyCollection<ulong> Conflicts { get; private set; } = NoConflicts;

    /// <summary>The store's exception when the write failed (its outcome is unknown), else null.</summary>
    public Exception? Failure { get; private set; }

    public long IssuedAt { get; set; }

    public long LandedAt { get; private set; }

    public Activity? Span { get; set; }

    /// <summary>True once the write's result is in (published last, with release semantics).</summary>
    public bool IsLanded => Volatile.Read(ref _landed);

    /// <summary>A pass with nothing to write (only answers waiting behind earlier writes) lands at once.</summary>
    public void LandEmpty(long now)
    {
        LandedAt = now;
        Volatile.Write(ref _landed, true);
    }

    /// <summary>Takes the store's write; a write that already finished lands now, else when it completes.</summary>
    public void Track(ValueTask<IReadOnlyCollection<ulong>> write)
    {
        _pending = write.ConfigureAwait(false).GetAwaiter();
        if (_pending.IsCompleted)
        {
            Complete();
            return;
        }

        // Off the shard: the store's completion may run on its own I/O thread, so the pass only records the
        // result there and wakes the shard, which settles the pass on the thread pool.
        _pending.UnsafeOnCompleted(_onLanded);
    }

    /// <summary>The store threw before it returned a write: nothing of the batch is known to be written.</summary>
    public void Fail(Exception exception, long now)
    {
        Failure = exception;
        LandEmpty(now);
    }

    public void Reset()
    {
        Carts.Clear();
        Writes.Clear();
        Unacknowledged.Clear();
        Conflicts = NoConflicts;
        Failure = null;
        Span = null;
        _pending = default;
        _landed = false;
    }

    private void OnLanded()
    {
        Complete();
        _shard.WakeForLanding();
    }

    private void Complete()
    {
        try
        {
            Conflicts = _pending.GetResult();
        }
        catch (Exception ex)
        {
            Failure = ex;
        }

        _pending = default;
        LandedAt = _shard.Now();
        Volatile.Write(ref _landed, true);
    }
}

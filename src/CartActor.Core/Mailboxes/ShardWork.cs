using System.Diagnostics;
using System.Threading.Tasks.Sources;
using CartActor.Grains;
using CartActor.Packing;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.ObjectPool;

namespace CartActor.Mailboxes;

/// <summary>One queued unit of work for a shard. Runs on the shard, between other items, never concurrently.</summary>
internal abstract class ShardWork
{
    public abstract void Execute(MailboxShard shard);
}

/// <summary>
/// A queued Apply. Pooled and awaited through a reusable <see cref="IValueTaskSource{T}"/>, so queueing
/// behind a busy shard allocates nothing of its own. Continuations run asynchronously: the shard never
/// runs a caller's code while it holds the shard (a settled pass's answers run inline off the shard, see PassAnswers).
/// </summary>
internal sealed class ApplyWork : ShardWork, IValueTaskSource<ApplyOutcome>
{
    private ManualResetValueTaskSourceCore<ApplyOutcome> _source = new() { RunContinuationsAsynchronously = true };
    private ObjectPool<ApplyWork>? _pool;
    private ulong _cartId;
    private IReadOnlyList<Any>? _mutations;
    private string? _idempotencyKey;
    private ActivityContext _caller;

    public short Version => _source.Version;

    public void Initialize(ObjectPool<ApplyWork> pool, ulong cartId, IReadOnlyList<Any> mutations, string? idempotencyKey, ActivityContext caller)
    {
        _pool = pool;
        _cartId = cartId;
        _mutations = mutations;
        _idempotencyKey = idempotencyKey;
        _caller = caller;
        ConflictRetries = 0;
    }

    public ulong CartId => _cartId;

    /// <summary>The span the Apply was called under (default when untraced): the parent of its store write's span.</summary>
    public ActivityContext Caller => _caller;

    /// <summary>How often this batch was re-applied after its write lost a compare-and-set (shard-only).</summary>
    public int ConflictRetries { get; set; }

    public override void Execute(MailboxShard shard)
    {
        ApplyOutcome outcome;
        try
        {
            outcome = shard.ApplyNow(_cartId, _mutations!, _idempotencyKey, _caller);
        }
        catch (Exception ex)
        {
            _source.SetException(ex);
            return;
        }

        shard.Acknowledge(this, outcome);
    }

    public void Succeed(ApplyOutcome outcome) => _source.SetResult(outcome);

    /// <summary>Completes the Apply running its caller's continuation on this thread: only off the shard (<see cref="PassAnswers"/>).</summary>
    public void SucceedInline(ApplyOutcome outcome)
    {
        _source.RunContinuationsAsynchronously = false;
        _source.SetResult(outcome);
    }

    public void Fail(Exception exception) => _source.SetException(exception);

    public ApplyOutcome GetResult(short token)
    {
        try
        {
            return _source.GetResult(token);
        }
        finally
        {
            _mutations = null;
            _idempotencyKey = null;
            _caller = default;
            _source.RunContinuationsAsynchronously = true;
            _source.Reset();
            _pool?.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    internal sealed class Policy : PooledObjectPolicy<ApplyWork>
    {
        public override ApplyWork Create() => new();

        public override bool Return(ApplyWork obj) => true;
    }
}

/// <summary>Rare work (sweeps, drops, exports, shutdown) that may allocate: a delegate and a task.</summary>
internal sealed class CallbackWork<T>(Func<MailboxShard, T> callback) : ShardWork
{
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Task => _completion.Task;

    public override void Execute(MailboxShard shard)
    {
        try
        {
            _completion.SetResult(callback(shard));
        }
        catch (Exception ex)
        {
            _completion.SetException(ex);
        }
    }
}

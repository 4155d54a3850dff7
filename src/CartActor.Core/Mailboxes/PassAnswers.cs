using CartActor.Packing;
using Microsoft.Extensions.ObjectPool;

namespace CartActor.Mailboxes;

/// <summary>
/// The answers of one settled pass, delivered off the shard by one thread-pool item: each caller's continuation
/// runs inline there, one after another, instead of one pool dispatch per Apply. Measured under perfmatrix's Apply
/// shape with <c>--durability os</c> (12.8 Applies per write): the per-Apply dispatch was about a third of a µs of the
/// write-through's 2.6 µs over memory, and the answers of a pass went to Kestrel interleaved with other work. The
/// shard fills it while it holds Busy and never touches it after queueing it; the run returns itself to the pool.
/// Used only when the runtime's <see cref="CartRuntimeOptions.InlinePassAnswers"/> is set (the node's endpoint): a
/// continuation that blocked on an Apply answered later in the same list would wait for ever, so every other
/// in-process caller of the public <see cref="CartRuntime"/> gets its continuation dispatched on its own.
/// </summary>
internal sealed class PassAnswers : IThreadPoolWorkItem
{
    private const int MaxRetained = 256;

    private ObjectPool<PassAnswers>? _pool;

    public List<(ApplyWork Work, ApplyOutcome Outcome)> Answers { get; private set; } = new();

    /// <summary>Hands the filled list to the pool's thread; the shard keeps the spare list it gets back.</summary>
    public List<(ApplyWork Work, ApplyOutcome Outcome)> Deliver(ObjectPool<PassAnswers> pool, List<(ApplyWork Work, ApplyOutcome Outcome)> answers)
    {
        _pool = pool;
        (Answers, answers) = (answers, Answers);
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return answers;
    }

    void IThreadPoolWorkItem.Execute()
    {
        var answers = Answers;
        foreach (var (work, outcome) in answers)
        {
            // Off the shard: a continuation that calls the shard again queues or takes it like any caller.
            work.SucceedInline(outcome);
        }

        answers.Clear();
        if (answers.Capacity > MaxRetained)
        {
            Answers = new();
        }

        var pool = _pool!;
        _pool = null;
        pool.Return(this);
    }

    internal sealed class Policy : PooledObjectPolicy<PassAnswers>
    {
        public override PassAnswers Create() => new();

        public override bool Return(PassAnswers obj) => true;
    }
}

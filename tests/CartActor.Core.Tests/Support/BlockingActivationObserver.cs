namespace CartActor.Core.Tests.Support;

/// <summary>
/// Holds a shard busy on demand: the first activation of <paramref name="blockedCartId"/> signals
/// <see cref="Entered"/> and then blocks inside the shard until <see cref="Release"/> is called. Every
/// other callback passes straight through.
/// </summary>
internal sealed class BlockingActivationObserver(ulong blockedCartId) : ICartLifecycleObserver, IDisposable
{
    private readonly ManualResetEventSlim _released = new(false);
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the shard is inside the blocked activation.</summary>
    public Task Entered => _entered.Task.WithTimeout();

    public void Release() => _released.Set();

    public void OnActivated(ulong cartId)
    {
        if (cartId == blockedCartId && _entered.TrySetResult() && !_released.Wait(TestTimeouts.Default))
        {
            throw new TimeoutException("the test never released the blocked shard");
        }
    }

    public void OnEvicted(ulong cartId, CartRecord record, EvictionReason reason)
    {
    }

    public void Dispose()
    {
        _released.Set();
        _released.Dispose();
    }
}

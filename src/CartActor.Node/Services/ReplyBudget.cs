using CartActor.Node.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Services;

/// <summary>
/// The node-wide budget of large reply bytes handed to Kestrel but not yet taken by their clients
/// (<c>Node:MaxPendingReplyBytes</c>), and the deadline for such a reply to leave (<c>Node:ReplyStallTimeout</c>).
/// A client may open streams and never grant HTTP/2 flow-control window (or never read): every reply then waits in
/// Kestrel's per-stream buffer, up to connections x <c>Node:MaxStreamsPerConnection</c> x reply size, and Kestrel's
/// own MinResponseDataRate (240 B/s after a 5 s grace, summed over a connection's stalled streams) gives 300 MB of
/// stalled replies about two weeks. So a reply of at least <see cref="TrackedReplyBytes"/> takes its size from the
/// budget before it is written and gives it back when Kestrel has taken it (the flush completed), or when the reply
/// has not left within the stall timeout and its stream is reset (which frees what it held). A call whose reply
/// does not fit is refused with RESOURCE_EXHAUSTED naming the setting: gRPC's status guide
/// (doc/statuscodes.md) lists "flow-control resource limits reached" under RESOURCE_EXHAUSTED, a resource of this
/// server that a retry may find free again; UNAVAILABLE would say the service is down.
/// Smaller replies are not counted: each fits Kestrel's per-stream response buffer (64 KiB), so they cost at most
/// connections x streams x 64 KiB and no extra flush on the hot path. Used by both endpoints: the minimal endpoint
/// directly, Grpc.AspNetCore through <see cref="ReplyBudgetInterceptor"/> and <see cref="ReplyBudgetFlush"/>.
/// </summary>
internal sealed class ReplyBudget
{
    /// <summary>Replies from this size on are counted and flushed under the stall deadline (Kestrel's default per-stream response buffer).</summary>
    public const int TrackedReplyBytes = 64 * 1024;

    private readonly long _limit;
    private readonly TimeProvider _time;
    private long _pending;
    private long _refused;
    private long _stalled;

    public ReplyBudget(IOptions<NodeOptions> options, TimeProvider time)
    {
        _limit = options.Value.MaxPendingReplyBytes;
        StallTimeout = options.Value.ReplyStallTimeout;
        _time = time;
        Refusal = new Status(
            StatusCode.ResourceExhausted,
            $"replies not yet taken by their clients hold Node:MaxPendingReplyBytes ({_limit} bytes); retry later");
    }

    /// <summary>RESOURCE_EXHAUSTED naming the setting.</summary>
    public Status Refusal { get; }

    public TimeSpan StallTimeout { get; }

    /// <summary>Bytes of counted replies not yet taken by their clients.</summary>
    public long Pending => Volatile.Read(ref _pending);

    /// <summary>Calls refused since start.</summary>
    public long Refused => Volatile.Read(ref _refused);

    /// <summary>Replies whose stream was reset because they did not leave within <see cref="StallTimeout"/>.</summary>
    public long Stalled => Volatile.Read(ref _stalled);

    /// <summary>True for a reply of this size: it is counted (the one check on the hot path).</summary>
    public static bool Tracks(int replyBytes) => replyBytes >= TrackedReplyBytes;

    /// <summary>
    /// True when the budget is spent: a call that would change a cart (Apply, Mutate, the storefront's mutations) is
    /// refused before it runs, so a refusal never hides a change that was made. Reads refuse only when their own
    /// reply does not fit (<see cref="TryTake"/>), so they never spend it all, and a write's reply is always sent
    /// (<see cref="Take"/>): the budget can be passed by the replies of writes already running.
    /// </summary>
    public bool IsSpent => Volatile.Read(ref _pending) >= _limit;

    /// <summary>Counts the reply of a call that ran (a write): never refused.</summary>
    public void Take(int bytes) => Interlocked.Add(ref _pending, bytes);

    /// <summary>Refuses a write before it runs (the budget is spent): counted with the other refusals.</summary>
    public Status Refuse()
    {
        Interlocked.Increment(ref _refused);
        return Refusal;
    }

    /// <summary>Takes <paramref name="bytes"/> from the budget (a read's reply); false (nothing taken) when they do not fit.</summary>
    public bool TryTake(int bytes)
    {
        if (Interlocked.Add(ref _pending, bytes) <= _limit)
        {
            return true;
        }

        Interlocked.Add(ref _pending, -bytes);
        Interlocked.Increment(ref _refused);
        return false;
    }

    public void Return(int bytes) => Interlocked.Add(ref _pending, -bytes);

    /// <summary>
    /// Flushes the reply written on <paramref name="http"/> and waits until Kestrel has taken it (its per-stream
    /// buffer holds at most 64 KiB more), at most <see cref="StallTimeout"/>; past it the stream is reset so what it
    /// held goes back.
    /// </summary>
    public async Task<ReplyDelivery> FlushAsync(HttpContext http)
    {
        using var stall = new CancellationTokenSource(StallTimeout, _time);
        try
        {
            var flushed = await http.Response.BodyWriter.FlushAsync(stall.Token).ConfigureAwait(false);
            if (!flushed.IsCanceled && !http.RequestAborted.IsCancellationRequested)
            {
                return ReplyDelivery.Delivered;
            }
        }
        catch (Exception) when (stall.IsCancellationRequested || http.RequestAborted.IsCancellationRequested)
        {
        }

        if (!stall.IsCancellationRequested)
        {
            return ReplyDelivery.ClientGone;
        }

        Interlocked.Increment(ref _stalled);
        http.Abort();
        return ReplyDelivery.Stalled;
    }
}

/// <summary>How a counted reply ended.</summary>
internal enum ReplyDelivery
{
    /// <summary>Kestrel took it (the client grants window and reads).</summary>
    Delivered,

    /// <summary>It did not leave within Node:ReplyStallTimeout: the stream was reset.</summary>
    Stalled,

    /// <summary>The client reset the stream or closed the connection first.</summary>
    ClientGone,
}

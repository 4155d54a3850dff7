using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Diagnostics;

/// <summary>
/// One warning line per class of failed request (RPC x status), at most one per class per
/// <see cref="Interval"/>, carrying how many failed since the previous line of that class. A storm of refusals
/// costs one line per class per interval, never one per request; successful calls never reach this type.
/// Lock-free: each class is a slot updated with Interlocked, and the thread that wins the slot's
/// compare-and-swap writes the line.
/// </summary>
internal sealed class FailedRequestLog
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private static readonly int StatusCount = Enum.GetValues<StatusCode>().Max(s => (int)s) + 1;

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly long _intervalTicks;
    private readonly Slot[] _slots;

    public FailedRequestLog(ILogger<FailedRequestLog> logger, TimeProvider time)
    {
        _logger = logger;
        _time = time;
        _intervalTicks = (long)(Interval.TotalSeconds * time.TimestampFrequency);
        _slots = new Slot[RpcCatalog.Names.Length * StatusCount];
        for (var i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot { NextLine = long.MinValue };
        }
    }

    /// <summary>Counts a failed call of <paramref name="method"/> (the gRPC path) and writes its class's line when one is due.</summary>
    public void Failed(string method, StatusCode status, string? detail)
    {
        if (status == StatusCode.OK || (int)status >= StatusCount)
        {
            return;
        }

        var rpc = RpcCatalog.IndexOf(method);
        var slot = _slots[rpc * StatusCount + (int)status];
        Interlocked.Increment(ref slot.Failed);
        var now = _time.GetTimestamp();
        var due = Volatile.Read(ref slot.NextLine);
        if (now < due || Interlocked.CompareExchange(ref slot.NextLine, now + _intervalTicks, due) != due)
        {
            return;
        }

        // This thread owns the line: take the count so far (this call included) and start the next period at zero.
        var count = Interlocked.Exchange(ref slot.Failed, 0);
        RequestLog.RequestsFailed(_logger, RpcCatalog.Names[rpc], status.ToString(), Math.Max(count, 1), Interval, detail ?? string.Empty);
    }

    private sealed class Slot
    {
        public long NextLine;
        public long Failed;
    }
}

/// <summary>Request-failure log lines (event ids 300+).</summary>
internal static partial class RequestLog
{
    [LoggerMessage(300, LogLevel.Warning, "{Rpc} answered {Status} to {Count} calls since this class's last line (at most one line per class per {Interval}); for example: {Detail}")]
    public static partial void RequestsFailed(ILogger logger, string rpc, string status, long count, TimeSpan interval, string detail);
}

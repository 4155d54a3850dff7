using System.Diagnostics.Metrics;
using Grpc.Core;

namespace CartActor.Node.Diagnostics;

/// <summary>
/// Per-RPC request count and latency, tagged by method and status (meter "CartActor.Node"). Exported as
/// cartactor_requests_total and cartactor_request_duration_seconds (the exporter adds "_total" to counters).
/// </summary>
public sealed class NodeMetrics : IDisposable
{
    public const string MeterName = "CartActor.Node";

    private static readonly string[] StatusNames = Enum.GetValues<StatusCode>().Select(s => s.ToString()).ToArray();

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _forwards;
    private readonly Counter<long> _retries;

    // One pre-built (rpc, status) tag pair per class, so that recording a call builds no tag array.
    private readonly KeyValuePair<string, object?>[][] _tags;

    public NodeMetrics(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _requests = _meter.CreateCounter<long>("cartactor_requests", description: "gRPC requests served, by RPC and status.");
        _duration = _meter.CreateHistogram<double>(
            "cartactor_request_duration_seconds",
            unit: "s",
            description: "gRPC request latency in seconds, by RPC and status.",
            advice: new InstrumentAdvice<double>
            {
                HistogramBucketBoundaries = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
            });
        _forwards = _meter.CreateCounter<long>("cartactor_forwards", description: "Calls forwarded to the cart's owner, by outcome (OK or the gRPC status of the failure).");
        _retries = _meter.CreateCounter<long>("cartactor_entry_retries", description: "Attempts an entry node made again within the caller's deadline, by reason (store, refused, cancelled, timeout).");
        _forwards.Add(0, new KeyValuePair<string, object?>("outcome", "OK"));
        foreach (var reason in (string[])["store", "refused", "cancelled", "timeout"])
        {
            _retries.Add(0, new KeyValuePair<string, object?>("reason", reason));
        }

        var rpcNames = RpcCatalog.Names;
        _tags = new KeyValuePair<string, object?>[rpcNames.Length * StatusNames.Length][];
        for (var rpc = 0; rpc < rpcNames.Length; rpc++)
        {
            for (var status = 0; status < StatusNames.Length; status++)
            {
                _tags[rpc * StatusNames.Length + status] =
                    [new("rpc", rpcNames[rpc]), new("status", StatusNames[status])];
            }
        }
    }

    /// <summary>A call this entry node forwarded to the cart's owner: its outcome, OK or the status it failed with.</summary>
    public void Forwarded(StatusCode status) =>
        _forwards.Add(1, new KeyValuePair<string, object?>("outcome", (int)status < StatusNames.Length ? StatusNames[(int)status] : "Unknown"));

    /// <summary>The entry node tries a call again: "store" (its own write failed or lost a race), "refused" (the owner refused or was unreachable), "cancelled" (a forward was cut off).</summary>
    public void Retried(string reason) => _retries.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>
    /// A streaming call (WatchCart, the health Watch, reflection): counted by status, never timed, because its
    /// duration is how long the client stayed subscribed, not a latency, and would swamp the histogram.
    /// </summary>
    public void RecordStream(string method, StatusCode status) => _requests.Add(1, Tags(RpcIndex(method), status));

    /// <summary>The index <see cref="Record(int, StatusCode, TimeSpan)"/> takes for a gRPC path (see <see cref="RpcCatalog"/>).</summary>
    public int RpcIndex(string method) => RpcCatalog.IndexOf(method);

    public void Record(string method, StatusCode status, TimeSpan elapsed) => Record(RpcIndex(method), status, elapsed);

    public void Record(int rpc, StatusCode status, TimeSpan elapsed)
    {
        var tags = Tags(rpc, status);
        _requests.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, tags);
    }

    private KeyValuePair<string, object?>[] Tags(int rpc, StatusCode status) =>
        _tags[rpc * StatusNames.Length + ((int)status < StatusNames.Length ? (int)status : (int)StatusCode.Unknown)];

    public void Dispose() => _meter.Dispose();
}

using System.Globalization;
using CartActor.Node.Diagnostics;

namespace CartActor.Node.Membership;

/// <summary>A one-line account of the membership state (heartbeat progress, freshness, the peer table), for failure reports and support.</summary>
internal sealed partial class ClusterMembership
{
    // Written by the heartbeat loop only; read by Describe (a torn read there costs a wrong figure in a report, nothing else).
    private long _beats;
    private long _lastBeatAt;
    private long _stepFailures;
    private string? _lastStepFailure;

    /// <summary>
    /// Heartbeats begun so far and when the last one began: a heartbeat that stopped or fell behind shows here; and the
    /// steps that threw (the loop logs them and goes on), with the last one's step and exception.
    /// </summary>
    public string Describe()
    {
        var lastBeat = Volatile.Read(ref _lastBeatAt);
        var since = lastBeat == 0 ? "never" : _time.GetElapsedTime(lastBeat).TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + "s ago";
        string peers;
        lock (_gate)
        {
            peers = _peers.Describe();
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"self {_view.Self} joined={_joined} confirmed={_selfConfirmed} stale={IsViewStale()} beats={Volatile.Read(ref _beats)} last beat {since} heartbeat task {ExecuteTask?.Status} step failures={Volatile.Read(ref _stepFailures)}{(Volatile.Read(ref _lastStepFailure) is { } last ? " (last: " + last + ")" : "")} epoch {_view.Ring.Epoch} ring [{string.Join(",", _view.Ring.Members)}] peers: {peers}");
    }

    /// <summary>A heartbeat step threw: logged (event 117) and counted for <see cref="Describe"/>; the loop goes on.</summary>
    private void HeartbeatStepFailed(string step, Exception exception)
    {
        ClusterLog.HeartbeatStepFailed(_logger, step, exception);
        Interlocked.Increment(ref _stepFailures);
        Volatile.Write(ref _lastStepFailure, $"{step}: {exception.GetType().Name}: {exception.Message}");
    }
}

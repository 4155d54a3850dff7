using Grpc.Core;

namespace CartActor.Node.Forwarding;

/// <summary>
/// The deadline of one forward attempt: the caller's deadline, capped at <c>Cluster:ForwardAttemptTimeout</c>
/// from now. Without the cap, a forward to an owner that accepts the connection but never answers (SIGSTOP,
/// a frozen VM) used up the caller's whole deadline, so no retry could reach the cart's stand-in once
/// membership had marked that owner suspect. The last attempt gets whatever the caller has left.
/// </summary>
internal static class ForwardAttempt
{
    public static DateTime Deadline(DateTime callerDeadline, TimeSpan attemptTimeout, DateTime now) =>
        callerDeadline - now > attemptTimeout ? now + attemptTimeout : callerDeadline;

    /// <summary>True when the attempt ran out of its own cap while the caller still has time: worth another attempt.</summary>
    public static bool TimedOut(RpcException ex, DateTime attemptDeadline, DateTime callerDeadline) =>
        ex.StatusCode == StatusCode.DeadlineExceeded && attemptDeadline < callerDeadline;
}

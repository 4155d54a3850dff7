using Grpc.Core;

namespace CartActor.Node.Services.Minimal;

/// <summary>
/// The large-reply path of the minimal endpoint (<see cref="ReplyBudget"/>): a reply of
/// <see cref="ReplyBudget.TrackedReplyBytes"/> or more takes its size from the node's budget (or the call is refused
/// with RESOURCE_EXHAUSTED naming Node:MaxPendingReplyBytes), is flushed and waited for under
/// Node:ReplyStallTimeout (past it the stream is reset), and gives its bytes back. Smaller replies never come here:
/// the hot path pays one size comparison.
/// </summary>
internal sealed partial class MinimalControlPlaneEndpoint
{
    /// <summary>What the failed-request log says of a reply whose stream was reset for stalling.</summary>
    private const string StalledDetail = "reply not taken by the client within Node:ReplyStallTimeout; stream reset";

    private async Task ServeTrackedAsync<T, TState>(
        HttpContext http, int rpc, string method, long started, CartAnswer<T> answer, int replyBytes, bool isWrite, TState state,
        Func<HttpContext, CartAnswer<T>, TState, ValueTask<bool>> write)
    {
        // A write ran already (it was let in while the budget was not spent): its reply is always sent.
        if (isWrite)
        {
            _replies.Take(replyBytes);
        }
        else if (!_replies.TryTake(replyBytes))
        {
            answer.Release?.Dispose();
            Finish(http, rpc, method, started, _replies.Refusal, null, _replies.Refusal.Detail);
            return;
        }

        try
        {
            bool written;
            try
            {
                written = await write(http, answer, state).ConfigureAwait(false);
            }
            finally
            {
                // The bytes are in Kestrel's pipe now: the pooled state may go back to its pool.
                answer.Release?.Dispose();
            }

            if (!written)
            {
                Fail(http, rpc, method, started, NoState(), CancellationToken.None);
                return;
            }

            var delivery = await _replies.FlushAsync(http).ConfigureAwait(false);
            if (delivery != ReplyDelivery.Delivered)
            {
                Record(rpc, method, started, StatusCode.Cancelled, delivery == ReplyDelivery.Stalled ? StalledDetail : CallStatus.CancelledDetail);
                return;
            }
        }
        finally
        {
            _replies.Return(replyBytes);
        }

        Finish(http, rpc, method, started, Status.DefaultSuccess, null, null);
    }

    /// <summary>
    /// Reads a write's (Apply, Mutate) idempotency key and admits it: a repeated key header is INVALID_ARGUMENT, and a
    /// write arriving while the budget is spent is refused before it runs. False: answered.
    /// </summary>
    private bool AdmitsWrite(HttpContext http, int rpc, string method, long started, out string? idempotencyKey)
    {
        if (!IdempotencyKeyHeader.TryRead(http.Request.Headers, out idempotencyKey))
        {
            Finish(http, rpc, method, started, IdempotencyKeyHeader.Repeated, null, IdempotencyKeyHeader.Repeated.Detail);
            return false;
        }

        if (!_replies.IsSpent)
        {
            return true;
        }

        var refusal = _replies.Refuse();
        Finish(http, rpc, method, started, refusal, null, refusal.Detail);
        return false;
    }

    private static async ValueTask<bool> WriteMessageAsync(HttpContext http, Google.Protobuf.IMessage reply)
    {
        await http.Response.StartAsync().ConfigureAwait(false);
        GrpcResponse.WriteMessage(http.Response.BodyWriter, reply);
        return true;
    }

    private static async ValueTask<bool> WriteGetReplyAsync(HttpContext http, Google.Protobuf.WellKnownTypes.Any? reply)
    {
        await http.Response.StartAsync().ConfigureAwait(false);
        GrpcResponse.WriteGetReply(http.Response.BodyWriter, reply);
        return true;
    }
}

using Grpc.Core;
using Grpc.Core.Interceptors;

namespace CartActor.Client.Tests;

/// <summary>
/// Sits between the client and the node: lets every call reach the node, and for the first
/// <paramref name="failAfterReply"/> calls replaces the node's reply with UNAVAILABLE, as when a connection
/// drops after the node applied a change and before its answer arrived. Records each attempt's idempotency key.
/// </summary>
internal sealed class FaultInjector(int failAfterReply) : Interceptor
{
    private int _calls;

    public List<string?> Keys { get; } = [];

    public int Calls => Volatile.Read(ref _calls);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var call = Interlocked.Increment(ref _calls);
        lock (Keys)
        {
            Keys.Add(context.Options.Headers?.GetValue("idempotency-key"));
        }

        var inner = continuation(request, context);
        return new AsyncUnaryCall<TResponse>(
            Reply(inner.ResponseAsync, call <= failAfterReply),
            inner.ResponseHeadersAsync,
            inner.GetStatus,
            inner.GetTrailers,
            inner.Dispose);
    }

    private static async Task<TResponse> Reply<TResponse>(Task<TResponse> response, bool lose)
    {
        var reply = await response.ConfigureAwait(false);
        return lose ? throw new RpcException(new Status(StatusCode.Unavailable, "injected: the reply was lost after the node applied the change")) : reply;
    }
}

using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.Node.Diagnostics;
using Grpc.Core;

namespace CartActor.Node.Services.Storefront;

/// <summary>
/// WatchCart while tracing is on (<see cref="NodeTracing.IsOn"/>): the same watch inside one server span per stream,
/// tagged with the cart, its route (served here or relayed to the owner, whose own watch span joins the trace),
/// the states sent and why the stream ended. Untraced watches never come here, so they pay nothing for it.
/// </summary>
internal sealed partial class CartApiService
{
    private async Task WatchTracedAsync(WatchCartRequest request, IServerStreamWriter<CartState> responseStream, ServerCallContext context)
    {
        var span = NodeTracing.StartWatch(request.CartId, context.GetHttpContext(), view.Self);
        var counted = span is null ? null : new CountingWriter(responseStream);
        try
        {
            await WatchAsync(request, counted ?? responseStream, context).ConfigureAwait(false);
            NodeTracing.EndWatch(span, counted?.Sent ?? 0, context.CancellationToken.IsCancellationRequested, failure: null);
        }
        catch (Exception ex)
        {
            NodeTracing.EndWatch(span, counted?.Sent ?? 0, context.CancellationToken.IsCancellationRequested, ex);
            throw;
        }
    }

    /// <summary>Counts the states a watch wrote to its caller (one writer per traced stream, written by one loop).</summary>
    private sealed class CountingWriter(IServerStreamWriter<CartState> inner) : IServerStreamWriter<CartState>
    {
        public long Sent { get; private set; }

        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(CartState message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(CartState message, CancellationToken cancellationToken)
        {
            await inner.WriteAsync(message, cancellationToken).ConfigureAwait(false);
            Sent++;
        }
    }
}

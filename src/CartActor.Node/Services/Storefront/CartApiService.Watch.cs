using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Ownership;
using Grpc.Core;

namespace CartActor.Node.Services.Storefront;

/// <summary>
/// WatchCart: served by the cart's owner from its change feed; any other node relays the owner's stream (once:
/// a relayed watch is never relayed again). The stream sends the current state, then each new version it sees:
/// a change only wakes the watcher, which re-reads the cart, so a slow reader skips to the latest version and
/// nothing queues. When the cart is no longer this node's (the ring moved it), the stream ends with
/// UNAVAILABLE and the client resubscribes, through any node. Traced watches: CartApiService.WatchTracing.cs.
/// </summary>
internal sealed partial class CartApiService
{
    /// <summary>How often an idle watch re-checks ownership, besides being woken by changes and evictions.</summary>
    private static readonly TimeSpan OwnershipRecheck = TimeSpan.FromSeconds(1);

    public override Task WatchCart(WatchCartRequest request, IServerStreamWriter<CartState> responseStream, ServerCallContext context) =>
        NodeTracing.IsOn ? WatchTracedAsync(request, responseStream, context) : WatchAsync(request, responseStream, context);

    private async Task WatchAsync(WatchCartRequest request, IServerStreamWriter<CartState> responseStream, ServerCallContext context)
    {
        if (request.CartId == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "cart_id must not be 0"));
        }

        var lookup = view.Map.Lookup(request.CartId);
        NodeTracing.Routed(lookup);
        if (lookup.Kind != OwnerKind.Local)
        {
            await RelayAsync(request, lookup, responseStream, context).ConfigureAwait(false);
            return;
        }

        var feed = runtime.Changes ?? throw new RpcException(new Status(StatusCode.Unimplemented, "this node keeps no change feed"));
        using var subscription = feed.TrySubscribe(request.CartId, out var refusal)
            ?? throw Refused(refusal!);
        var sent = false;
        ulong last = 0;
        var token = context.CancellationToken;
        while (!token.IsCancellationRequested)
        {
            var now = view.Map.Lookup(request.CartId);
            if (now.Kind != OwnerKind.Local)
            {
                throw Moved(request.CartId, now);
            }

            var state = await ReadLocalAsync(request.CartId).ConfigureAwait(false);
            if (!sent || state.Version != last)
            {
                await responseStream.WriteAsync(state, token).ConfigureAwait(false);
                sent = true;
                last = state.Version;
            }

            try
            {
                await subscription.WaitAsync(OwnershipRecheck, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return; // the client left
            }
        }
    }

    private async Task<CartState> ReadLocalAsync(ulong cartId)
    {
        using var lease = await runtime.GetAsync(cartId).ConfigureAwait(false);
        return CartState.Parser.ParseFrom(lease.State.Value);
    }

    private async Task RelayAsync(WatchCartRequest request, OwnerLookup lookup, IServerStreamWriter<CartState> responseStream, ServerCallContext context)
    {
        if (ForwardingHeaders.IsForwarded(context) || lookup.Kind != OwnerKind.Remote)
        {
            throw Moved(request.CartId, lookup);
        }

        var client = new CartService.CartServiceClient(peers.InvokerFor(lookup.Owner));
        var headers = ForwardingHeaders.For(lookup.Ring);
        using var forward = NodeTracing.StartForward(nameof(WatchCart), lookup.Owner);
        if (forward is not null)
        {
            NodeTracing.Inject(forward, headers);
        }

        using var call = client.WatchCart(request, headers, cancellationToken: context.CancellationToken);
        try
        {
            while (await call.ResponseStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
            {
                await responseStream.WriteAsync(call.ResponseStream.Current, context.CancellationToken).ConfigureAwait(false);
            }
        }
        catch (RpcException ex) when (!context.CancellationToken.IsCancellationRequested && ex.StatusCode is not (StatusCode.InvalidArgument or StatusCode.ResourceExhausted))
        {
            // The owner's stream ended (the cart moved, the owner stopped or is unreachable): the client resubscribes.
            NodeTracing.Failed(forward, ex);
            NodeTracing.WatchEnding("owner_stream_ended");
            throw new RpcException(new Status(StatusCode.Unavailable, $"the watch of cart {request.CartId} on {lookup.Owner} ended ({ex.StatusCode}: {ex.Status.Detail}); resubscribe"));
        }
    }

    private static RpcException Moved(ulong cartId, OwnerLookup lookup)
    {
        NodeTracing.WatchEnding("moved");
        return new(new Status(StatusCode.Unavailable, lookup.Kind == OwnerKind.Remote
            ? $"cart {cartId} is now served by {lookup.Owner}; resubscribe"
            : $"cart {cartId} has no serving node in this node's view; resubscribe"));
    }

    private static RpcException Refused(string refusal)
    {
        NodeTracing.WatchEnding("refused");
        return new(new Status(StatusCode.ResourceExhausted, refusal));
    }
}

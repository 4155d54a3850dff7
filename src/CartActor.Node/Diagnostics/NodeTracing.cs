using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using CartActor.Ownership;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace CartActor.Node.Diagnostics;

/// <summary>
/// The node's spans (ActivitySource "CartActor.Node"): one server span per Apply and Get with the cart, its owner
/// and whether this node served it or forwarded it, one per WatchCart stream (events sent, why it ended), and a
/// client span around each forward (a relayed watch included) whose W3C context
/// travels in the forwarded call's traceparent header, so the owner's span (and its store write, source
/// "CartActor") join the entry node's trace. Off unless a listener is registered (--traces otlp): callers check
/// <see cref="IsOn"/> first and take the untraced path, which reads no header, builds no tag and allocates nothing.
/// </summary>
internal static class NodeTracing
{
    public const string SourceName = "CartActor.Node";

    public const string TraceParentHeader = "traceparent";
    public const string TraceStateHeader = "tracestate";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>True when something listens to this node's spans; one field read when nothing does.</summary>
    public static bool IsOn => Source.HasListeners();

    /// <summary>
    /// Starts the server span of one Apply or Get (only call when <see cref="IsOn"/>; call it from the async method
    /// the span covers, as it changes the current span). Its parent is the current span when a tracer records it
    /// (ASP.NET's request span, when something listens to it), else the caller's traceparent header (a forwarding
    /// peer, or a traced client), else none.
    /// </summary>
    public static Activity? StartCall(string rpc, ulong cartId, HttpContext http, string self) =>
        StartServer(rpc, "control_plane_messages.ControlPlane", cartId, http, self);

    /// <summary>
    /// Starts the server span of one WatchCart stream, parented as <see cref="StartCall"/> (only call when
    /// <see cref="IsOn"/>, from the async method the span covers). <see cref="EndWatch"/> ends it.
    /// </summary>
    public static Activity? StartWatch(ulong cartId, HttpContext http, string self) =>
        StartServer(WatchCart, "cartactor.cart.v1.CartService", cartId, http, self);

    /// <summary>
    /// Names why the current watch ends (the cart moved, the owner's stream ended...), at the place that decides
    /// it; <see cref="EndWatch"/> fills in the reason when nobody named one. No-op when untraced.
    /// </summary>
    public static void WatchEnding(string reason)
    {
        if (!IsOn)
        {
            return;
        }

        // The watch's span, or the parent of a relayed watch's forward span.
        for (var span = Activity.Current; span is not null; span = span.Parent)
        {
            if (ReferenceEquals(span.Source, Source) && span.OperationName == WatchCart)
            {
                span.SetTag(WatchEndReason, reason);
                return;
            }
        }
    }

    /// <summary>
    /// Ends a watch's span with the states it sent and why it ended: the reason named by <see cref="WatchEnding"/>,
    /// else "client_left" (the caller cancelled or went away), "completed" (the stream ended normally) or "error".
    /// </summary>
    public static void EndWatch(Activity? activity, long sent, bool clientLeft, Exception? failure)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("cartactor.watch.events_sent", sent);
        if (activity.GetTagItem(WatchEndReason) is null)
        {
            activity.SetTag(WatchEndReason, clientLeft ? "client_left" : failure is null ? "completed" : "error");
        }

        if (failure is not null && !clientLeft)
        {
            Failed(activity, failure);
        }

        activity.Dispose();
    }

    private const string WatchCart = "WatchCart";
    private const string WatchEndReason = "cartactor.watch.end_reason";

    private static Activity? StartServer(string rpc, string service, ulong cartId, HttpContext http, string self)
    {
        Activity? activity;
        if (Activity.Current is { Recorded: true, Source.Name.Length: > 0 })
        {
            activity = Source.StartActivity(rpc, ActivityKind.Server);
        }
        else
        {
            // ASP.NET starts a bare, unrecorded request activity whenever its logger is on. As a parent it would
            // make a sampler drop this span (parent not sampled) or hang it under a span no exporter sees.
            Activity.Current = null;
            TryReadParent(http.Request.Headers, out var parent);
            activity = Source.StartActivity(rpc, ActivityKind.Server, parent);
        }

        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("rpc.system", "grpc")
                .SetTag("rpc.service", service)
                .SetTag("rpc.method", rpc)
                .SetTag("cart.id", cartId.ToString(CultureInfo.InvariantCulture))
                .SetTag("cartactor.node", self);
            if (http.Request.Headers.TryGetValue(Forwarding.ForwardingHeaders.Sender, out var sender))
            {
                activity.SetTag("cartactor.forwarded_by", sender.ToString());
            }
        }

        return activity;
    }

    /// <summary>Records where this attempt sends the cart: "local" (served here) or "forwarded" (to its owner).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Routed(in OwnerLookup lookup)
    {
        if (IsOn)
        {
            TagRoute(lookup);
        }
    }

    private static void TagRoute(in OwnerLookup lookup)
    {
        if (Activity.Current is { Source: var source, IsAllDataRequested: true } current && ReferenceEquals(source, Source))
        {
            current.SetTag("cart.owner", lookup.Kind == OwnerKind.Local ? lookup.Ring.Self : lookup.Owner)
                .SetTag("cart.route", lookup.Kind == OwnerKind.Local ? "local" : "forwarded")
                .SetTag("cartactor.ring_epoch", lookup.Ring.Epoch);
        }
    }

    /// <summary>The client span of one forward to <paramref name="owner"/>; null when untraced.</summary>
    public static Activity? StartForward(string rpc, string owner)
    {
        if (!IsOn)
        {
            return null;
        }

        var activity = Source.StartActivity("forward " + rpc, ActivityKind.Client);
        activity?.SetTag("rpc.system", "grpc").SetTag("rpc.method", rpc).SetTag("server.address", owner);
        return activity;
    }

    /// <summary>Adds the span's W3C context to a forwarded call's headers (the headers must be the call's own copy).</summary>
    public static void Inject(Activity activity, Metadata headers)
    {
        // Activity.Id is the traceparent value itself in the W3C id format (the default since .NET 5).
        if (activity.IdFormat == ActivityIdFormat.W3C && activity.Id is { } id)
        {
            headers.Add(TraceParentHeader, id);
            if (activity.TraceStateString is { Length: > 0 } state)
            {
                headers.Add(TraceStateHeader, state);
            }
        }
    }

    /// <summary>Marks a span failed with the gRPC status the caller will see (or the runtime's error).</summary>
    public static void Failed(Activity? activity, Exception exception)
    {
        if (activity is null)
        {
            return;
        }

        switch (exception)
        {
            case RpcException rpc:
                activity.SetTag("rpc.grpc.status_code", (int)rpc.StatusCode);
                activity.SetStatus(ActivityStatusCode.Error, rpc.StatusCode.ToString());
                break;
            case CartRuntimeException runtime:
                activity.SetStatus(ActivityStatusCode.Error, runtime.Error.ToString());
                break;
            default:
                activity.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
                break;
        }
    }

    private static bool TryReadParent(IHeaderDictionary headers, out ActivityContext parent)
    {
        parent = default;
        if (!headers.TryGetValue(TraceParentHeader, out var traceParent) || traceParent.Count != 1)
        {
            return false;
        }

        headers.TryGetValue(TraceStateHeader, out var traceState);
        return ActivityContext.TryParse(traceParent.ToString(), traceState.Count == 0 ? null : traceState.ToString(), isRemote: true, out parent);
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace CartActor.Diagnostics;

/// <summary>
/// The runtime's spans (ActivitySource "CartActor"): one per store write, a child of the Apply it acknowledges,
/// and one per store load, a child of the Apply or Get whose cart it activates. Off unless something listens (the node's tracer provider when --traces otlp): every entry point checks
/// <see cref="ActivitySource.HasListeners"/> first, so with nobody listening no context is read, no tag is
/// built and nothing is allocated.
/// </summary>
public static class CartTracing
{
    public const string SourceName = "CartActor";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// The span an Apply was called under, kept with its queued work so that the store write its answer waits
    /// for (on whichever thread runs the shard) joins the caller's trace. Default when nobody listens.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ActivityContext CaptureCaller() =>
        Source.HasListeners() && Activity.Current is { } current ? current.Context : default;

    /// <summary>
    /// Starts the span of one batch write: a child of the first waiting Apply's span, linked to the others'.
    /// Null when nobody listens or no waiting Apply was traced.
    /// </summary>
    internal static Activity? StartStoreWrite(string store, int carts, IReadOnlyList<ActivityContext> callers)
    {
        if (!Source.HasListeners() || callers.Count == 0)
        {
            return null;
        }

        List<ActivityLink>? links = null;
        for (var i = 1; i < callers.Count; i++)
        {
            if (callers[i] != callers[0])
            {
                (links ??= []).Add(new ActivityLink(callers[i]));
            }
        }

        var activity = Source.StartActivity("cart.store.write", ActivityKind.Client, callers[0], links: links);
        activity?.SetTag("db.system", store)
            .SetTag("cartactor.store", store)
            .SetTag("cartactor.store.batch_carts", carts);
        return activity;
    }

    /// <summary>
    /// Starts the span of one load of a cart from the store (the cart is not live here): a child of the Apply or Get
    /// that asked for it, passed explicitly because the load runs on whichever thread runs the shard, where the
    /// current span may be another caller's. Null when nobody listens or the caller was not traced.
    /// </summary>
    internal static Activity? StartStoreLoad(string store, ulong cartId, ActivityContext caller)
    {
        if (!Source.HasListeners() || caller == default)
        {
            return null;
        }

        var activity = Source.StartActivity("cart.store.load", ActivityKind.Client, caller);
        activity?.SetTag("db.system", store)
            .SetTag("cartactor.store", store)
            .SetTag("cart.id", cartId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return activity;
    }

    /// <summary>Ends a store load's span: a hit (a record was found and the cart activated from it) or a miss (a new cart).</summary>
    internal static void EndStoreLoad(Activity activity, bool hit, Exception? failure)
    {
        if (failure is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, failure.Message);
        }
        else
        {
            activity.SetTag("cartactor.store.hit", hit);
        }

        activity.Dispose();
    }

    /// <summary>Ends a store write's span with what became of it.</summary>
    internal static void EndStoreWrite(Activity activity, int conflicts, Exception? failure)
    {
        activity.SetTag("cartactor.store.conflicts", conflicts);
        if (failure is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, failure.Message);
        }

        activity.Dispose();
    }
}

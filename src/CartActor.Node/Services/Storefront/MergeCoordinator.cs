using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using CartActor.Node.Forwarding;
using Grpc.Core;

namespace CartActor.Node.Services.Storefront;

/// <summary>
/// MergeCarts (guest to customer) as three Applies, each routed like any other to its cart's owner (the two
/// carts may live on different nodes) and each idempotent on the stored state, so a retry after a crash at any
/// step resumes and completes the merge once: 1. BeginMerge freezes the source (MERGING, naming the target);
/// 2. ApplyMerge applies the frozen lines to the target, once per source (the target's merged_from);
/// 3. CompleteMerge closes the source (MERGED). A target that refuses the merge reopens the source (AbortMerge).
/// The merge is idempotent by its (source, target) pair: no idempotency key is needed for a safe retry. A
/// client's `idempotency-key` goes with steps 1 and 2, so each cart's idempotency window checks it as Apply's
/// does: the key reused for another merge (another target or strategy: the source refuses it at step 1;
/// another source: the target refuses it at step 2, and the source frozen for it is reopened) is
/// INVALID_ARGUMENT naming the key, and a retry with the key replays the steps already done.
/// </summary>
internal sealed class MergeCoordinator(ControlPlaneService controlPlane)
{
    /// <summary>Test hook: runs after each completed step (1, 2, 3); throwing there stands for a crash between steps.</summary>
    internal Action<int>? AfterStep { get; set; }

    public async Task<MergeCartsReply> MergeAsync(MergeCartsRequest request, ServerCallContext context)
    {
        if (request.TargetId == 0 || request.SourceId == 0 || request.TargetId == request.SourceId)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "target_id and source_id must be two different, non-zero cart ids"));
        }

        var mode = request.Strategy switch
        {
            MergeStrategy.Unspecified or MergeStrategy.MergeLines => MergeMode.Lines,
            MergeStrategy.KeepTarget => MergeMode.KeepTarget,
            MergeStrategy.ReplaceWithSource => MergeMode.ReplaceWithSource,
            _ => throw new RpcException(new Status(StatusCode.InvalidArgument, $"strategy {(int)request.Strategy} is not a MergeStrategy")),
        };

        var key = IdempotencyKeyHeader.Read(context);
        var begin = new BeginMerge { TargetId = request.TargetId, Mode = mode };
        var (frozen, beginError) = await StepAsync(request.SourceId, begin, context, key).ConfigureAwait(false);
        if (beginError is null && (frozen.MergedInto != request.TargetId || frozen.Status is not (CartStatus.Merging or CartStatus.Merged)))
        {
            // The key replayed a step 1 whose merge was undone since (the target refused): freeze the source again.
            (frozen, beginError) = await StepAsync(request.SourceId, begin, context, key: null).ConfigureAwait(false);
        }

        if (beginError is not null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"source cart {request.SourceId}: {beginError}"));
        }

        AfterStep?.Invoke(1);

        var from = new ApplyMerge { SourceId = request.SourceId, Mode = mode };
        from.Items.Add(frozen.Items);
        from.Attributes.Add(frozen.Attributes);
        from.Deliveries.Add(frozen.Deliveries);
        from.Vouchers.Add(frozen.Vouchers);
        CartState target;
        string? mergeError;
        try
        {
            (target, mergeError) = await StepAsync(request.TargetId, from, context, key).ConfigureAwait(false);
        }
        catch (Exception ex) when (key is not null && IsInvalidArgument(ex))
        {
            // The target knows the key from another request: undo step 1 unless the target already took this
            // source (an earlier attempt of this merge got that far; a retry with its own key completes it).
            if (frozen.Status == CartStatus.Merging && !await TargetTookAsync(request, context).ConfigureAwait(false))
            {
                await StepAsync(request.SourceId, new AbortMerge { TargetId = request.TargetId }, context, key: null).ConfigureAwait(false);
            }

            throw;
        }

        if (mergeError is not null)
        {
            if (frozen.Status == CartStatus.Merging)
            {
                await StepAsync(request.SourceId, new AbortMerge { TargetId = request.TargetId }, context, key: null).ConfigureAwait(false);
            }

            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"target cart {request.TargetId}: {mergeError}"));
        }

        AfterStep?.Invoke(2);

        var (source, completeError) = await StepAsync(request.SourceId, new CompleteMerge { TargetId = request.TargetId }, context, key: null).ConfigureAwait(false);
        if (completeError is not null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"source cart {request.SourceId}: {completeError}"));
        }

        AfterStep?.Invoke(3);
        ETags.Set(context, target.Version);
        return new MergeCartsReply { Target = target, Source = source };
    }

    private async Task<bool> TargetTookAsync(MergeCartsRequest request, ServerCallContext context)
    {
        var reply = await controlPlane.Get(new GetRequest { Id = request.TargetId }, context).ConfigureAwait(false);
        return CartState.Parser.ParseFrom(reply.Grain.Value).MergedFrom.Contains(request.SourceId);
    }

    private static bool IsInvalidArgument(Exception ex) =>
        ex is CartRuntimeException { Error: CartRequestError.InvalidArgument } or RpcException { StatusCode: StatusCode.InvalidArgument };

    private async Task<(CartState State, string? Error)> StepAsync(ulong cartId, IMessage mutation, ServerCallContext context, string? key)
    {
        var apply = new ApplyRequest { Id = cartId };
        apply.Messages.Add(Any.Pack(mutation));
        // Each step is idempotent on the stored state without a key; the client's key (steps 1 and 2) is checked
        // by the cart's idempotency window, and the routing adds its own key for its retries when there is none.
        var result = await controlPlane.Apply(apply, context, key).ConfigureAwait(false);
        var state = CartState.Parser.ParseFrom(result.State.Value);
        var step = result.Mutations[0];
        return (state, step.HasError ? step.Error : null);
    }
}

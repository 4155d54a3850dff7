using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.ControlPlane;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace CartActor.Node.Services.Storefront;

/// <summary>
/// MergeCarts (guest to customer) as three Applies, each routed like any other to its cart's owner (the two
/// carts may live on different nodes) and each idempotent on the stored state, so a retry after a crash at any
/// step resumes and completes the merge once: 1. BeginMerge freezes the source (MERGING, naming the target);
/// 2. ApplyMerge applies the frozen lines to the target, once per source (the target's merged_from);
/// 3. CompleteMerge closes the source (MERGED). A target that refuses the merge reopens the source (AbortMerge).
/// The merge is idempotent by its (source, target) pair: no idempotency key is needed for a safe retry.
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

        var (frozen, beginError) = await StepAsync(request.SourceId, new BeginMerge { TargetId = request.TargetId }, context).ConfigureAwait(false);
        if (beginError is not null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"source cart {request.SourceId}: {beginError}"));
        }

        AfterStep?.Invoke(1);

        var from = new ApplyMerge { SourceId = request.SourceId, Mode = mode };
        from.Items.Add(frozen.Items);
        var (target, mergeError) = await StepAsync(request.TargetId, from, context).ConfigureAwait(false);
        if (mergeError is not null)
        {
            if (frozen.Status == CartStatus.Merging)
            {
                await StepAsync(request.SourceId, new AbortMerge { TargetId = request.TargetId }, context).ConfigureAwait(false);
            }

            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"target cart {request.TargetId}: {mergeError}"));
        }

        AfterStep?.Invoke(2);

        var (source, completeError) = await StepAsync(request.SourceId, new CompleteMerge { TargetId = request.TargetId }, context).ConfigureAwait(false);
        if (completeError is not null)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"source cart {request.SourceId}: {completeError}"));
        }

        AfterStep?.Invoke(3);
        ETags.Set(context, target.Version);
        return new MergeCartsReply { Target = target, Source = source };
    }

    private async Task<(CartState State, string? Error)> StepAsync(ulong cartId, IMessage mutation, ServerCallContext context)
    {
        var apply = new ApplyRequest { Id = cartId };
        apply.Messages.Add(Any.Pack(mutation));
        // No client key: each step is idempotent on the stored state; the routing adds its own key for its retries.
        var result = await controlPlane.Apply(apply, context, key: null).ConfigureAwait(false);
        var state = CartState.Parser.ParseFrom(result.State.Value);
        var step = result.Mutations[0];
        return (state, step.HasError ? step.Error : null);
    }
}

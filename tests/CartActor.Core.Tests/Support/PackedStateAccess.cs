using System.Runtime.CompilerServices;
using CartActor.Packing;

namespace CartActor.Core.Tests.Support;

/// <summary>
/// Reaches the <see cref="PackedState"/> behind a lease or an apply outcome, so tests can watch when its
/// pooled buffer goes back (<see cref="PackedState.IsReturnedToPool"/>). The public API deliberately hides it.
/// </summary>
internal static class PackedStateAccess
{
    public static PackedState Of(CartStateLease lease) =>
        LeasePacked(ref lease) ?? throw new InvalidOperationException("the lease holds no packed state");

    public static PackedState Of(ApplyOutcome outcome) =>
        OutcomeState(ref outcome) ?? throw new InvalidOperationException("the outcome holds no packed state (a replay)");

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_packed")]
    private static extern ref PackedState? LeasePacked(ref CartStateLease lease);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_state")]
    private static extern ref PackedState? OutcomeState(ref ApplyOutcome outcome);
}

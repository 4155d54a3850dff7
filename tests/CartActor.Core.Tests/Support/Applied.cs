using CartActor.ControlPlane;

namespace CartActor.Core.Tests.Support;

/// <summary>
/// An Apply's answer copied out of the pooled buffers before its outcome was disposed, so assertions can
/// read it at leisure.
/// </summary>
internal sealed record Applied(ApplyResult Result, CartState State, bool IsReplay)
{
    public MutationResult this[int index] => Result.Mutations[index];

    /// <summary>Asserts that no mutation of the batch was refused.</summary>
    public Applied AssertAllSucceeded()
    {
        for (var i = 0; i < Result.Mutations.Count; i++)
        {
            var mutation = Result.Mutations[i];
            Assert.False(mutation.HasError, $"mutation {i} ({mutation.Type}) was refused: {mutation.Error}");
        }

        return this;
    }
}

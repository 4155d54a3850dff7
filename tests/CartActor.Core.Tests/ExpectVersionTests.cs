using Google.Protobuf.WellKnownTypes;

namespace CartActor.Core.Tests;

/// <summary>ExpectVersion: first in a batch, a mismatch refuses the whole batch (VersionMismatch) and changes nothing.</summary>
public sealed class ExpectVersionTests : IAsyncLifetime
{
    private const ulong CartId = 51;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public async Task InitializeAsync() => await _runtime.ApplyOkAsync(CartId, AddItem("a"));

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task AMatchingVersion_AppliesTheBatch()
    {
        var state = await _runtime.ApplyOkAsync(CartId, Expect(1), AddItem("b"));

        Assert.Equal(2UL, state.Version);
    }

    [Fact]
    public async Task AMismatch_RefusesTheWholeBatch_AndChangesNothing()
    {
        var ex = await Assert.ThrowsAsync<CartRuntimeException>(() => _runtime.ApplyAsync(CartId, [Expect(0), AddItem("b"), AddItem("c")]).AsTask().WaitAsync(TestTimeouts.Default));

        Assert.Equal(CartRequestError.VersionMismatch, ex.Error);
        Assert.Contains("at version 1, not the expected 0", ex.Message, StringComparison.Ordinal);
        var record = await _runtime.ExportAsync(CartId).WaitAsync(TestTimeouts.Default);
        Assert.Equal(1UL, record!.State.Version);
        Assert.Single(record.State.Items);
    }

    [Fact]
    public async Task AfterAChangeInTheSameBatch_AMismatchIsAnOrdinaryRefusal()
    {
        // The version a batch sees is the one it began at (it moves once, after the batch).
        var applied = await _runtime.ApplyAndReadAsync(CartId, AddItem("b"), Expect(0));

        Assert.False(applied.Result.Mutations[0].HasError);
        Assert.Contains("not the expected 0", applied.Result.Mutations[1].Error, StringComparison.Ordinal);
        Assert.Equal(2UL, applied.State.Version);
    }

    private static Any Expect(ulong version) => Any.Pack(new ExpectVersion { Version = version });
}

using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using Grpc.Core;

namespace CartActor.Node.Tests;

/// <summary>Safe retries: an Apply repeated with the same idempotency-key header is applied once.</summary>
[Collection(SharedNodeCollection.Name)]
public sealed class IdempotencyTests(NodeFixture fixture)
{
    private RunningNode Node => fixture.Node;

    private static Metadata Key(string key) => new() { { "idempotency-key", key } };

    [Fact]
    public async Task ARepeatedKeyReturnsTheOriginalResultAndAppliesNothing()
    {
        var id = Carts.NewId();
        var request = Carts.Apply(id, Carts.Item("sku-once", quantity: 2, unitPrice: 300));

        var first = await Node.Client.ApplyAsync(request, Key("k-1")).WithTimeout();
        var retry = await Node.Client.ApplyAsync(request, Key("k-1")).WithTimeout();

        Assert.Equal(first, retry);
        Assert.Equal(1UL, Carts.State(retry).Version);
        var now = Carts.State(await Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout());
        Assert.Equal(1UL, now.Version);
        Assert.Equal(2, Assert.Single(now.Items).Quantity);
    }

    [Fact]
    public async Task TheRepeatReturnsTheFirstResultsWithTheCurrentStateAfterTheCartMovedOn()
    {
        var id = Carts.NewId();
        var request = Carts.Apply(id, Carts.Item("sku-a"), new CartActor.Cart.Messages.RemoveItem { ItemId = 99 });
        var first = await Node.Client.ApplyAsync(request, Key("k-a")).WithTimeout();
        await Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-b")), Key("k-b")).WithTimeout();

        var retry = await Node.Client.ApplyAsync(request, Key("k-a")).WithTimeout();

        Assert.Equal(first.Mutations, retry.Mutations);
        Assert.True(retry.Mutations[1].HasError);
        var now = Carts.State(await Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout());
        Assert.Equal(now, Carts.State(retry));
        Assert.Equal(2UL, now.Version);
        Assert.Equal(["sku-a", "sku-b"], now.Items.Select(i => i.Sku));
        Assert.Equal(1, now.Items[0].Quantity);
    }

    [Fact]
    public async Task AKeyReusedForADifferentRequestIsAnInvalidArgumentNamingTheKey()
    {
        var id = Carts.NewId();
        await Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-a")), Key("order-7-add")).WithTimeout();

        var ex = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-other")), Key("order-7-add")));

        Assert.Contains("idempotency-key 'order-7-add'", ex.Status.Detail, StringComparison.Ordinal);
        var now = Carts.State(await Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout());
        Assert.Equal("sku-a", Assert.Single(now.Items).Sku);
    }

    [Fact]
    public async Task TheRecordStaysSmallAfterManyKeyedRefusedPayloads()
    {
        var id = Carts.NewId();
        var client = new CartActor.ControlPlane.ControlPlane.ControlPlaneClient(Node.NewChannel(new() { MaxReceiveMessageSize = null }));
        var refused = new Google.Protobuf.WellKnownTypes.Any
        {
            TypeUrl = "type.googleapis.com/cart_messages.AddItem",
            Value = Google.Protobuf.ByteString.CopyFrom(new byte[1024 * 1024]),
        };
        for (var i = 0; i < 70; i++)
        {
            // Only refused: nothing to remember at all.
            var onlyRefused = new ApplyRequest { Id = id, Messages = { refused } };
            Assert.True((await client.ApplyAsync(onlyRefused, Key($"refused-{i}")).WithTimeout()).Mutations[0].HasError);
            // One line added beside the refused megabyte: remembered, without the payload.
            var mixed = Carts.Apply(id, Carts.Item($"sku-{i}"));
            mixed.Messages.Add(refused);
            await client.ApplyAsync(mixed, Key($"mixed-{i}")).WithTimeout();
        }

        var record = await Node.Get<CartRuntime>().ExportAsync(id).WithTimeout();

        Assert.NotNull(record);
        Assert.Equal(70UL, record.State.Version);
        Assert.Equal(70, record.Idempotency.Count);
        Assert.InRange(record.CalculateSize(), 1, 64 * 1024);
    }

    [Fact]
    public async Task DifferentKeysAndNoKeyAreAppliedEachTime()
    {
        var id = Carts.NewId();
        var request = Carts.Apply(id, Carts.Item("sku-many"));

        await Node.Client.ApplyAsync(request, Key("k-1")).WithTimeout();
        await Node.Client.ApplyAsync(request, Key("k-2")).WithTimeout();
        await Node.Client.ApplyAsync(request).WithTimeout();
        var last = await Node.Client.ApplyAsync(request).WithTimeout();

        Assert.Equal(4, Assert.Single(Carts.State(last).Items).Quantity);
    }

    [Fact]
    public async Task TheSameKeyOnAnotherCartIsAnotherRequest()
    {
        ulong a = Carts.NewId(), b = Carts.NewId();

        await Node.Client.ApplyAsync(Carts.Apply(a, Carts.Item("sku-a")), Key("shared-key")).WithTimeout();
        var onB = await Node.Client.ApplyAsync(Carts.Apply(b, Carts.Item("sku-b")), Key("shared-key")).WithTimeout();

        var state = Carts.State(onB);
        Assert.Equal(b, state.Id);
        Assert.Equal("sku-b", Assert.Single(state.Items).Sku);
    }

    [Fact]
    public async Task RepeatsThatRaceEachOtherAreAppliedOnceAndAllGetTheSameResult()
    {
        var id = Carts.NewId();
        var request = Carts.Apply(id, Carts.Item("sku-race", quantity: 3, unitPrice: 700), Carts.Item("sku-race-2"));
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var repeats = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            await start.Task.WithTimeout();
            return await Node.Client.ApplyAsync(request, Key("race-key")).WithTimeout();
        })).ToArray();
        start.SetResult();
        var results = await Task.WhenAll(repeats).WithTimeout();

        Assert.All(results, r => Assert.Equal(results[0], r));
        var state = Carts.State(results[0]);
        Assert.Equal(2UL, state.Version);
        Assert.Equal([3, 1], state.Items.Select(i => i.Quantity));
        var now = Carts.State(await Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout());
        Assert.Equal(state, now);
    }

    [Fact]
    public async Task AnEmptyOrOverlongKeyIsAnInvalidArgument()
    {
        var id = Carts.NewId();

        var empty = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-a")), Key(string.Empty)));
        var overlong = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-a")), Key(new string('k', 129))));

        Assert.Contains("idempotency-key", empty.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("idempotency-key", overlong.Status.Detail, StringComparison.Ordinal);
    }
}

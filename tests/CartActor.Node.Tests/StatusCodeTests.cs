using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Empty = CartActor.ControlPlane.Empty;

namespace CartActor.Node.Tests;

/// <summary>Every refusal the contract names, with the status code and message a client sees.</summary>
[Collection(SharedNodeCollection.Name)]
public sealed class StatusCodeTests(NodeFixture fixture)
{
    private RunningNode Node => fixture.Node;

    [Fact]
    public async Task ApplyToCartZeroIsAnInvalidArgumentNamingTheId()
    {
        var ex = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.ApplyAsync(Carts.Apply(0, Carts.Item("sku-a"))));

        Assert.Contains("id", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyWithoutMessagesIsAnInvalidArgumentNamingMessages()
    {
        var ex = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.ApplyAsync(new ApplyRequest { Id = Carts.NewId() }));

        Assert.Contains("messages", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetOfCartZeroIsAnInvalidArgument()
    {
        var ex = await GrpcTestExtensions.AssertStatusAsync(
            StatusCode.InvalidArgument, Node.Client.GetAsync(new GetRequest { Id = 0 }));

        Assert.Contains("id", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DomainErrorsAreMutationResultsNotGrpcErrors()
    {
        var id = Carts.NewId();
        var call = Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-zero", quantity: 0)));

        var result = await call.WithTimeout();

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        var mutation = Assert.Single(result.Mutations);
        Assert.Equal("AddItem", mutation.Type);
        Assert.True(mutation.HasError);
        Assert.Contains("quantity 0", mutation.Error, StringComparison.Ordinal);
        var state = Carts.State(result);
        Assert.Empty(state.Items);
        Assert.Equal(0UL, state.Version);
    }

    [Fact]
    public async Task ARequestAboveTheMaximumMessageSizeIsRefusedAndTheNodeKeepsServing()
    {
        var id = Carts.NewId();
        var huge = new ApplyRequest { Id = id };
        huge.Messages.Add(new Any
        {
            TypeUrl = "type.googleapis.com/cart_messages.AddItem",
            Value = ByteString.CopyFrom(new byte[16 * 1024 * 1024]),
        });

        // Its own connection, so the refused stream cannot disturb the shared channel of the other tests.
        var client = new ControlPlane.ControlPlane.ControlPlaneClient(Node.NewChannel());
        var ex = await GrpcTestExtensions.AssertStatusAsync(StatusCode.ResourceExhausted, client.ApplyAsync(huge));
        Assert.Contains("message size", ex.Status.Detail, StringComparison.OrdinalIgnoreCase);

        // Nothing was applied, and both the same connection and a fresh one still work.
        Assert.Equal(0UL, Carts.State(await client.GetAsync(new GetRequest { Id = id }).WithTimeout()).Version);
        var applied = await client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-after"))).WithTimeout();
        Assert.Equal(1UL, Carts.State(applied).Version);
        Assert.Equal($"127.0.0.1:{Node.GrpcPort}", (await Node.Client.PingAsync(new Empty()).WithTimeout()).Host);
    }

    [Fact]
    public async Task ARequestJustBelowTheMaximumMessageSizeIsServed()
    {
        var id = Carts.NewId();
        var request = Carts.Apply(id, Carts.Item("sku-a"));
        // A 4 MiB message with room for the envelope: still a request the node must answer (the mutation fails on its own terms).
        request.Messages.Add(new Any { TypeUrl = "type.googleapis.com/cart_messages.AddItem", Value = ByteString.CopyFrom(new byte[(4 * 1024 * 1024) - 1024]) });

        // The result echoes every mutation as sent, so the reply is as large as the request: lift the client's own 4 MiB limit.
        var client = new ControlPlane.ControlPlane.ControlPlaneClient(Node.NewChannel(new() { MaxReceiveMessageSize = null }));
        var result = await client.ApplyAsync(request).WithTimeout();

        Assert.False(result.Mutations[0].HasError);
        Assert.True(result.Mutations[1].HasError);
        Assert.Equal(1UL, Carts.State(result).Version);
    }
}

/// <summary>A full mailbox shard answers RESOURCE_EXHAUSTED at once, and the node carries on.</summary>
public sealed class OverloadTests
{
    [Fact]
    public async Task AFullShardRefusesWithResourceExhaustedAndTheNodeKeepsServing()
    {
        await using var node = await RunningNode.StartAsync(["--Cart:ShardCount", "1", "--Cart:MaxQueueDepthPerShard", "1"]);
        var carts = Enumerable.Range(0, 8).Select(_ => Carts.NewId()).ToArray();
        // Batches of 100 lines make each Apply hold the single shard long enough for others to pile up behind it.
        var batch = Enumerable.Range(0, 100).Select(i => (IMessage)Carts.Item($"sku-{i}")).ToArray();

        var before = await node.ScrapeAsync();
        var exhausted = 0;
        var succeeded = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        for (var round = 0; exhausted == 0 && DateTime.UtcNow < deadline; round++)
        {
            var calls = Enumerable.Range(0, 64).Select(async i =>
            {
                try
                {
                    await node.Client.ApplyAsync(Carts.Apply(carts[i % carts.Length], new ClearCart()).WithMore(batch), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
                    Interlocked.Increment(ref succeeded);
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
                {
                    Assert.Contains("shard", ex.Status.Detail, StringComparison.Ordinal);
                    Interlocked.Increment(ref exhausted);
                }
            });
            await Task.WhenAll(calls).WithTimeout();
        }

        Assert.True(exhausted > 0, $"no RESOURCE_EXHAUSTED in 15 s ({succeeded} Applies succeeded)");
        Assert.True(succeeded > 0);

        // Operators see the refusals: per RPC and status, and as shard rejections.
        var after = await node.ScrapeAsync();
        const string Refused = "cartactor_requests_total{rpc=\"Apply\",status=\"ResourceExhausted\"}";
        Assert.Equal(exhausted, after.GetValueOrDefault(Refused) - before.GetValueOrDefault(Refused));
        Assert.Equal(exhausted, after.GetValueOrDefault("cartactor_shard_refusals_total") - before.GetValueOrDefault("cartactor_shard_refusals_total"));

        // Still serving: a new call succeeds on a sound cart.
        var applied = await node.Client.ApplyAsync(Carts.Apply(carts[0], Carts.Item("sku-after"))).WithTimeout();
        Assert.False(applied.Mutations[0].HasError);
        Carts.AssertConsistent(Carts.State(applied), carts[0]);
        Assert.Equal($"127.0.0.1:{node.GrpcPort}", (await node.Client.PingAsync(new Empty()).WithTimeout()).Host);
    }
}

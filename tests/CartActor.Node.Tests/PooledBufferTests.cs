using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Tests.Shared;
using Google.Protobuf;

namespace CartActor.Node.Tests;

/// <summary>
/// Apply and Get reply with state bytes rented from a pool and wrapped without a copy. A buffer that went
/// back to the pool before grpc-dotnet wrote the reply would be rented by the next state packed and
/// overwritten, so some reply would carry another cart's bytes, a torn state or a stale version. Many
/// concurrent calls on a few carts make that reuse likely; every reply must still be a sound CartState.
/// </summary>
[Collection(SharedNodeCollection.Name)]
public sealed class PooledBufferTests(NodeFixture fixture)
{
    private RunningNode Node => fixture.Node;

    [Fact]
    [Trait("Category", "Slow")]
    public async Task EveryReplyUnderConcurrentAppliesAndGetsIsASelfConsistentState()
    {
        var carts = Enumerable.Range(0, 4).Select(_ => Carts.NewId()).ToArray();
        // Different sizes per cart, so a reused buffer would show as the wrong id, torn lines or wrong totals.
        for (var c = 0; c < carts.Length; c++)
        {
            var seed = Enumerable.Range(0, 2 + (c * 5)).Select(i => (IMessage)Carts.Item($"sku-{c}-{i}", quantity: 1 + i, unitPrice: 100 + (c * 10) + i));
            await Node.Client.ApplyAsync(Carts.Apply(carts[c]).WithMore(seed)).WithTimeout();
        }

        const int Workers = 16;
        const int CallsPerWorker = 150;
        var replies = 0L;
        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            var lastSeen = new ulong[carts.Length];
            var random = new Random(w);
            for (var i = 0; i < CallsPerWorker; i++)
            {
                var c = random.Next(carts.Length);
                var id = carts[c];
                CartState state;
                if (random.Next(3) == 0)
                {
                    state = Carts.State(await Node.Client.GetAsync(new GetRequest { Id = id }).WithTimeout());
                }
                else
                {
                    var sku = $"sku-{c}-{random.Next(12)}";
                    var request = Carts.Apply(id, Carts.Item(sku, quantity: 1 + random.Next(3), unitPrice: 100 + (c * 10)), new ChangeQuantity { ItemId = (uint)(1 + random.Next(12)), Quantity = 1 + random.Next(5) });
                    var result = await Node.Client.ApplyAsync(request).WithTimeout();
                    Assert.Equal(["AddItem", "ChangeQuantity"], result.Mutations.Select(m => m.Type));
                    Assert.Equal(request.Messages, result.Mutations.Select(m => m.Message));
                    Assert.False(result.Mutations[0].HasError, result.Mutations[0].Error);
                    state = Carts.State(result);
                }

                Carts.AssertConsistent(state, id);
                Assert.True(state.Version >= lastSeen[c], $"cart {id}: version went back from {lastSeen[c]} to {state.Version}");
                lastSeen[c] = state.Version;
                Interlocked.Increment(ref replies);
            }
        })).ToArray();

        await Task.WhenAll(workers).WithTimeout();

        Assert.Equal(Workers * CallsPerWorker, replies);
    }
}

using CartActor.Cart;
using CartActor.Tests.Shared;
using Google.Protobuf;

namespace CartActor.Node.Tests;

/// <summary>Limits that agree: one Apply may fill a cart to its line limit.</summary>
[Collection(SharedNodeCollection.Name)]
public sealed class BatchLimitTests(NodeFixture fixture)
{
    [Fact]
    public async Task ABatchOf200AddItemsFillsACart()
    {
        var id = Carts.NewId();
        var adds = Enumerable.Range(0, CartLimits.MaxLines).Select(i => (IMessage)Carts.Item($"sku-{i}")).ToArray();

        var result = await fixture.Node.Client.ApplyAsync(Carts.Apply(id, adds)).WithTimeout();

        Assert.All(result.Mutations, m => Assert.False(m.HasError, m.Error));
        var state = Carts.State(result);
        Assert.Equal(CartLimits.MaxLines, state.Items.Count);
        Carts.AssertConsistent(state, id);

        // Full: one more line is refused as a mutation error, the cart keeps its 200 lines.
        var more = await fixture.Node.Client.ApplyAsync(Carts.Apply(id, Carts.Item("sku-one-too-many"))).WithTimeout();
        Assert.True(more.Mutations[0].HasError);
        Assert.Equal(CartLimits.MaxLines, Carts.State(more).Items.Count);
    }
}

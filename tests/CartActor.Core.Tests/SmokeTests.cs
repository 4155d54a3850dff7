using CartActor.Cart.Messages;
using CartActor.Tests.Shared;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Core.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task AddItemThenGetReturnsTheLine()
    {
        await using var runtime = new CartRuntime(new CartRuntimeOptions { ShardCount = 2 });
        using (var outcome = await runtime.ApplyAsync(7, [Any.Pack(new AddItem { Sku = "A", Quantity = 3, UnitPrice = 999, TaxRate = 2500 })]).WithTimeout())
        {
            Assert.False(outcome.Result.Mutations[0].HasError);
            var state = outcome.Result.State.Unpack<CartState>();
            Assert.Equal(2997, state.TotalPrice);
            Assert.Equal(599, state.TotalTax);
        }

        using var lease = runtime.Get(7);
        Assert.Equal(1UL, lease.State.Unpack<CartState>().Version);
    }
}

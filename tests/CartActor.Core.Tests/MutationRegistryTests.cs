using CartActor.Cart;
using CartActor.Cart.Handlers;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Time.Testing;

namespace CartActor.Core.Tests;

/// <summary>One registry maps every mutation message of cart.proto to its handler; a registry can be swapped in whole.</summary>
public sealed class MutationRegistryTests
{
    /// <summary>Messages of cart.proto that are state, not mutations.</summary>
    private static readonly HashSet<string> StateMessages =
        ["CartItem", "Delivery", "Voucher", "CartState", "TaxLine", "IdempotencyEntry", "RefusedMutation", "CartRecord"];

    [Fact]
    public void EveryMutationMessage_HasExactlyOneHandler()
    {
        var mutationMessages = CartReflection.Descriptor.MessageTypes
            .Where(m => !StateMessages.Contains(m.Name))
            .Select(m => m.FullName)
            .Order()
            .ToList();

        Assert.Equal(17, mutationMessages.Count);
        Assert.Equal(mutationMessages, MutationRegistry.Default.Handlers.Select(h => h.Descriptor.FullName).Order());
        foreach (var handler in MutationRegistry.Default.Handlers)
        {
            Assert.Equal(Mutations.TypeUrlPrefix + handler.Name, handler.TypeUrl);
            Assert.True(MutationRegistry.Default.TryGetHandler(handler.TypeUrl, out var found));
            Assert.Same(handler, found);
        }
    }

    [Fact]
    public void RegisteringATypeTwice_Throws() =>
        Assert.Throws<ArgumentException>(() => new MutationRegistry([new AddItemHandler(), new AddItemHandler()]));

    [Fact]
    public async Task ARuntimeAppliesOnlyWhatItsRegistryKnows()
    {
        var registry = new MutationRegistry([new AddItemHandler()]);
        await using var runtime = new CartRuntime(new CartRuntimeOptions { ShardCount = 1 }, new FakeTimeProvider(), registry: registry);

        var applied = await runtime.ApplyAndReadAsync(1, AddItem("a"), RemoveItem(1));

        Assert.False(applied[0].HasError);
        Assert.Contains("cart_messages.RemoveItem", applied[1].Error, StringComparison.Ordinal);
        Assert.Equal("a", Assert.Single(applied.State.Items).Sku);
    }

    [Fact]
    public void Apply_OnAModelDirectly_ReportsChangeAndType()
    {
        var cart = CartModel.CreateEmpty(1, "EUR");

        var outcome = MutationRegistry.Default.Apply(cart, AddItem("a"), out var type);
        var refused = MutationRegistry.Default.Apply(cart, Any.Pack(new RemoveVoucher { VoucherId = 4 }), out var refusedType);

        Assert.True(outcome.IsChanged);
        Assert.False(outcome.IsFailed);
        Assert.Equal("AddItem", type);
        Assert.True(refused.IsFailed);
        Assert.False(refused.IsChanged);
        Assert.Equal("RemoveVoucher", refusedType);
        Assert.Single(cart.State.Items);
    }
}

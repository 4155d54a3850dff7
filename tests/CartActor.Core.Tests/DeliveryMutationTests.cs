using CartActor.Cart;

namespace CartActor.Core.Tests;

/// <summary>SetDelivery and RemoveDelivery, and how removing items reaches into deliveries.</summary>
public sealed class DeliveryMutationTests : IAsyncLifetime
{
    private const ulong CartId = 7;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public async Task InitializeAsync() =>
        await _runtime.ApplyOkAsync(CartId, AddItem("a", unitPrice: 1000), AddItem("b", unitPrice: 2000), AddItem("c", unitPrice: 3000));

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task SetDelivery_ForNamedItems_AddsADeliveryWithThoseIds()
    {
        var state = await _runtime.ApplyOkAsync(CartId, SetDelivery("postnord", 490, 1, 3));

        var delivery = Assert.Single(state.Deliveries);
        Assert.Equal(1u, delivery.Id);
        Assert.Equal("postnord", delivery.Provider);
        Assert.Equal(490, delivery.Price);
        Assert.Equal([1u, 3u], delivery.ItemIds);
        Assert.Equal(6000 + 490, state.TotalPrice);
        Assert.Equal(4UL, state.Version);
    }

    [Fact]
    public async Task SetDelivery_WithNoItemIds_CoversAllItems()
    {
        var state = await _runtime.ApplyOkAsync(CartId, SetPickupDelivery("budbee", 0, "box-17"));

        var delivery = Assert.Single(state.Deliveries);
        Assert.Empty(delivery.ItemIds);
        Assert.Equal("box-17", delivery.PickupPointId);
        Assert.Equal(6000, state.TotalPrice);
    }

    [Fact]
    public async Task SetDelivery_TwiceAddsTwoDeliveriesWithDistinctIds()
    {
        var state = await _runtime.ApplyOkAsync(CartId, SetDelivery("postnord", 490, 1), SetDelivery("dhl", 990, 2, 3));

        Assert.Equal([1u, 2u], state.Deliveries.Select(d => d.Id));
        Assert.Equal(6000 + 490 + 990, state.TotalPrice);
    }

    [Fact]
    public async Task SetDelivery_RefusesAnUnknownItemId() =>
        await _runtime.AssertRefusedAsync(CartId, SetDelivery("postnord", 490, 1, 99), "SetDelivery", "no item with id 99");

    [Fact]
    public async Task SetDelivery_RefusesARemovedItemId()
    {
        await _runtime.ApplyOkAsync(CartId, RemoveItem(2));

        await _runtime.AssertRefusedAsync(CartId, SetDelivery("postnord", 490, 2), "SetDelivery", "no item with id 2");
    }

    [Fact]
    public async Task SetDelivery_RefusesAnItemIdListedTwice() =>
        await _runtime.AssertRefusedAsync(CartId, SetDelivery("postnord", 490, 1, 1), "SetDelivery", "listed twice");

    [Fact]
    public async Task SetDelivery_RefusesAnEmptyProvider() =>
        await _runtime.AssertRefusedAsync(CartId, SetDelivery("", 490), "SetDelivery", "provider");

    [Fact]
    public async Task SetDelivery_RefusesANegativePrice() =>
        await _runtime.AssertRefusedAsync(CartId, SetDelivery("postnord", -1), "SetDelivery", "price -1");

    [Fact]
    public async Task SetDelivery_RefusesAnEmptyCart()
    {
        await _runtime.ApplyOkAsync(CartId, ClearCart());

        await _runtime.AssertRefusedAsync(CartId, SetDelivery("postnord", 490), "SetDelivery", "no items");
    }

    [Fact]
    public async Task SetDelivery_RefusesMoreThanTheDeliveryLimit()
    {
        var deliveries = Enumerable.Range(0, CartLimits.MaxDeliveries).Select(i => SetDelivery($"provider-{i}", 100)).ToArray();
        await _runtime.ApplyOkAsync(CartId, deliveries);

        await _runtime.AssertRefusedAsync(CartId, SetDelivery("one-too-many", 100), "SetDelivery", $"{CartLimits.MaxDeliveries} deliveries");
    }

    [Fact]
    public async Task RemovingAnItem_DropsItFromDeliveriesThatNameIt()
    {
        await _runtime.ApplyOkAsync(CartId, SetDelivery("postnord", 490, 1, 2), SetDelivery("dhl", 990, 3), SetDelivery("all", 100));

        var afterRemove = await _runtime.ApplyOkAsync(CartId, RemoveItem(1));
        var postnord = afterRemove.Deliveries.Single(d => d.Provider == "postnord");
        Assert.Equal([2u], postnord.ItemIds);
        Assert.Equal([3u], afterRemove.Deliveries.Single(d => d.Provider == "dhl").ItemIds);
        Assert.Empty(afterRemove.Deliveries.Single(d => d.Provider == "all").ItemIds);

        // A delivery whose last named item goes is dropped: an empty list would silently mean "all items".
        var afterChange = await _runtime.ApplyOkAsync(CartId, ChangeQuantity(3, 0));
        Assert.Equal(["postnord", "all"], afterChange.Deliveries.Select(d => d.Provider));
        Assert.Equal(2000 + 490 + 100, afterChange.TotalPrice);
    }

    [Fact]
    public async Task RemoveDelivery_RemovesThatDelivery()
    {
        await _runtime.ApplyOkAsync(CartId, SetDelivery("postnord", 490, 1), SetDelivery("dhl", 990));

        var state = await _runtime.ApplyOkAsync(CartId, RemoveDelivery(1));

        Assert.Equal("dhl", Assert.Single(state.Deliveries).Provider);
        Assert.Equal(6000 + 990, state.TotalPrice);
    }

    [Fact]
    public async Task RemoveDelivery_RefusesAnUnknownId()
    {
        await _runtime.ApplyOkAsync(CartId, SetDelivery("postnord", 490, 1));

        await _runtime.AssertRefusedAsync(CartId, RemoveDelivery(2), "RemoveDelivery", "no delivery with id 2");
    }

    [Fact]
    public async Task DeliveryIds_AreNeverReusedAfterRemoval()
    {
        await _runtime.ApplyOkAsync(CartId, SetDelivery("postnord", 490), RemoveDelivery(1));

        var state = await _runtime.ApplyOkAsync(CartId, SetDelivery("dhl", 990));

        Assert.Equal(2u, Assert.Single(state.Deliveries).Id);
    }
}

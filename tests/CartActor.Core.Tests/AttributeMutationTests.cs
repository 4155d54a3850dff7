using CartActor.Cart;
using Google.Protobuf.WellKnownTypes;

namespace CartActor.Core.Tests;

/// <summary>SetCartAttributes and SetItemAttributes: string key/values, bounded in count and size.</summary>
public sealed class AttributeMutationTests : IAsyncLifetime
{
    private const ulong CartId = 41;
    private readonly CartRuntime _runtime = TestRuntime.Create();

    public async Task InitializeAsync() => await _runtime.ApplyOkAsync(CartId, AddItem("a"));

    public async Task DisposeAsync() => await _runtime.DisposeAsync().WithTimeout();

    [Fact]
    public async Task CartAttributes_AreSetReplacedAndRemoved()
    {
        var state = await _runtime.ApplyOkAsync(CartId, Cart(("channel", "web"), ("gift", "yes")));
        Assert.Equal("web", state.Attributes["channel"]);
        Assert.Equal(2UL, state.Version); // AddItem, then one changing mutation

        state = await _runtime.ApplyOkAsync(CartId, Cart(("channel", "app"), ("gift", "")));
        Assert.Equal(new Dictionary<string, string> { ["channel"] = "app" }, state.Attributes);

        var remove = new SetCartAttributes();
        remove.Remove.Add("channel");
        state = await _runtime.ApplyOkAsync(CartId, Any.Pack(remove));
        Assert.Empty(state.Attributes);
    }

    [Fact]
    public async Task ItemAttributes_AreKeptOnTheLine()
    {
        var set = new SetItemAttributes { ItemId = 1 };
        set.Attributes.Add("engraving", "A.B.");
        var state = await _runtime.ApplyOkAsync(CartId, Any.Pack(set));

        Assert.Equal("A.B.", Assert.Single(state.Items).Attributes["engraving"]);
    }

    [Fact]
    public async Task ItemAttributes_OnAMissingLine_AreRefused()
    {
        var set = new SetItemAttributes { ItemId = 99 };
        set.Attributes.Add("k", "v");
        await _runtime.AssertRefusedAsync(CartId, Any.Pack(set), "SetItemAttributes", "no item with id 99");
    }

    [Fact]
    public async Task TooManyOrTooLong_AreRefusedWithoutChange()
    {
        var many = new SetCartAttributes();
        for (var i = 0; i <= CartLimits.MaxAttributes; i++)
        {
            many.Attributes.Add($"k{i}", "v");
        }

        await _runtime.AssertRefusedAsync(CartId, Any.Pack(many), "SetCartAttributes", $"at most {CartLimits.MaxAttributes}");
        await _runtime.AssertRefusedAsync(CartId, Cart((new string('k', CartLimits.MaxAttributeKeyLength + 1), "v")), "keys must be 1..");
        await _runtime.AssertRefusedAsync(CartId, Cart(("k", new string('v', CartLimits.MaxAttributeValueLength + 1))), "longer than");
    }

    [Fact]
    public async Task SettingTheSameValue_ChangesNothing()
    {
        await _runtime.ApplyOkAsync(CartId, Cart(("k", "v")));
        var state = await _runtime.ApplyOkAsync(CartId, Cart(("k", "v")));

        Assert.Equal(2UL, state.Version);
    }

    private static Any Cart(params (string Key, string Value)[] pairs)
    {
        var set = new SetCartAttributes();
        foreach (var (key, value) in pairs)
        {
            set.Attributes.Add(key, value);
        }

        return Any.Pack(set);
    }
}

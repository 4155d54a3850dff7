using System.Diagnostics;
using CartActor.Cart.Messages;
using CartActor.Cart.V1;
using CartActor.Tests.Shared;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace CartActor.Client.Tests;

/// <summary>
/// The client against a real node process: typed changes in and the cart's state out, a retry after a lost
/// reply or a node restart applied exactly once, and deadlines honoured.
/// </summary>
[Trait("Category", "Process")]
public sealed class CartClientTests
{
    private static long s_nextCart = Random.Shared.NextInt64(1L << 20, 1L << 40);

    [Fact]
    public async Task TypedChanges_ReturnTheCartsNewState()
    {
        await using var node = await NodeUnderTest.StartAsync();
        using var client = new CartClient(node.Address);
        var cart = NewCartId();

        var added = await client.AddItemAsync(cart, Item("sku-1", quantity: 2)).WithTimeout();
        var line = Assert.Single(added.Items);
        Assert.Equal(("sku-1", 2, 1UL), (line.Sku, line.Quantity, added.Version));

        var changed = await client.ChangeQuantityAsync(cart, line.Id, 5).WithTimeout();
        Assert.Equal(5, Assert.Single(changed.Items).Quantity);
        Assert.Equal(2UL, changed.Version);

        var batch = await client.MutateAsync(cart, [
            new Mutation { AddItem = Item("sku-2") },
            new Mutation { AddVoucher = new AddVoucher { Code = "TEN", Amount = 1_000 } },
        ]).WithTimeout();
        Assert.Equal(["sku-1", "sku-2"], batch.Cart.Items.Select(i => i.Sku));
        Assert.All(batch.Results, r => Assert.False(r.HasError, r.Error));

        var read = await client.GetAsync(cart).WithTimeout();
        Assert.Equal(batch.Cart, read);
    }

    [Fact]
    public async Task ARefusedChange_FailsAtOnce_WithTheRuleAndNoRetry()
    {
        await using var node = await NodeUnderTest.StartAsync();
        var faults = new FaultInjector(failAfterReply: 0);
        using var channel = GrpcChannel.ForAddress(node.Address);
        using var client = new CartClient(channel.Intercept(faults));
        var cart = NewCartId();
        var state = await client.AddItemAsync(cart, Item("sku-1")).WithTimeout();

        var stale = await Assert.ThrowsAsync<RpcException>(() => client.AddItemAsync(cart, Item("sku-2"), new CartCallOptions { ExpectedVersion = state.Version + 7 })).WithTimeout();

        Assert.Equal(StatusCode.Aborted, stale.StatusCode);
        Assert.Equal(2, faults.Calls);
        Assert.Equal(["sku-1"], (await client.GetAsync(cart).WithTimeout()).Items.Select(i => i.Sku));
    }

    [Fact]
    public async Task AReplyLostAfterTheNodeApplied_IsRetriedWithTheSameKey_AndAppliedOnce()
    {
        await using var node = await NodeUnderTest.StartAsync();
        var faults = new FaultInjector(failAfterReply: 2);
        using var channel = GrpcChannel.ForAddress(node.Address);
        using var client = new CartClient(channel.Intercept(faults), new CartClientOptions { MaxAttempts = 4, InitialBackoff = TimeSpan.FromMilliseconds(10) });
        var cart = NewCartId();

        var state = await client.AddItemAsync(cart, Item("once")).WithTimeout();

        // Three attempts reached the node with one key; the change is in the cart once.
        Assert.Equal(3, faults.Calls);
        var key = Assert.Single(faults.Keys.Distinct());
        Assert.False(string.IsNullOrEmpty(key));
        Assert.Equal(1, Assert.Single(state.Items).Quantity);
        Assert.Equal(1UL, state.Version);
        var read = await client.GetAsync(cart).WithTimeout();
        Assert.Equal(1, Assert.Single(read.Items).Quantity);
        Assert.Equal(1UL, read.Version);

        // The next logical change has a key of its own (a read carries none).
        await client.AddItemAsync(cart, Item("twice")).WithTimeout();
        Assert.Equal(2, faults.Keys.OfType<string>().Distinct().Count());
    }

    [Fact]
    public async Task ACallDuringANodeRestart_IsRetriedUntilTheNodeIsBack_AndAppliedOnce()
    {
        await using var node = await NodeUnderTest.StartAsync();
        var faults = new FaultInjector(failAfterReply: 0);
        using var channel = GrpcChannel.ForAddress(node.Address);
        using var client = new CartClient(channel.Intercept(faults), new CartClientOptions
        {
            Timeout = TimeSpan.FromSeconds(60),
            MaxAttempts = 200,
            InitialBackoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(250),
        });
        var cart = NewCartId();
        await client.AddItemAsync(cart, Item("before")).WithTimeout();

        // A crash, and the same node back on the same port and disk a little later.
        await node.KillAsync();
        var restart = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            node.Restart();
        });
        var callsBefore = faults.Calls;
        var state = await client.AddItemAsync(cart, Item("during")).WithTimeout();
        await restart.WithTimeout();

        Assert.True(faults.Calls - callsBefore > 1, $"{faults.Calls - callsBefore} attempt(s): the node was never unreachable");
        Assert.Single(faults.Keys.Skip(callsBefore).Distinct());
        Assert.Equal(["before", "during"], state.Items.Select(i => i.Sku));
        Assert.All(state.Items, i => Assert.Equal(1, i.Quantity));
        Assert.Equal(2UL, state.Version);
    }

    [Fact]
    public async Task ACallToAPausedNode_EndsAtItsDeadline()
    {
        await using var node = await NodeUnderTest.StartAsync();
        using var client = new CartClient(node.Address, new CartClientOptions { Timeout = TimeSpan.FromSeconds(30) });
        var cart = NewCartId();
        await client.AddItemAsync(cart, Item("warm")).WithTimeout();

        await node.SignalAsync("STOP");
        try
        {
            var clock = Stopwatch.StartNew();
            var ex = await Assert.ThrowsAsync<RpcException>(() => client.GetAsync(cart, new CartCallOptions { Timeout = TimeSpan.FromSeconds(1) })).WithTimeout();
            clock.Stop();

            Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(10));
        }
        finally
        {
            await node.SignalAsync("CONT");
        }
    }

    [Fact]
    public void OptionsThatCannotWork_AreRefusedByName()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new CartClient(new Uri("http://127.0.0.1:1"), new CartClientOptions { MaxAttempts = 0 }));

        Assert.Contains("MaxAttempts", ex.Message, StringComparison.Ordinal);
    }

    private static ulong NewCartId() => (ulong)Interlocked.Increment(ref s_nextCart);

    private static AddItem Item(string sku, int quantity = 1) =>
        new() { Sku = sku, Name = "name of " + sku, Quantity = quantity, UnitPrice = 1_000, OriginalPrice = 1_000, TaxRate = 2_500 };
}

using CartActor.Cart.Messages;
using CartActor.ControlPlane;
using CartActor.Node.Services;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Http2;
using CartActor.Node.Tests.Conformance;
using Google.Protobuf;
using Grpc.Core;
using Xunit.Abstractions;

namespace CartActor.Node.Tests;

/// <summary>
/// A client that never lets the node send a reply byte (HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE 0) asks for a ~600 KB
/// cart 500 times on one connection (the adversarial review's reproducer: it pinned 300-500 MB and the connection
/// was never closed). The node takes what fits Node:MaxPendingReplyBytes, refuses the rest with RESOURCE_EXHAUSTED
/// naming the setting, keeps serving a well-behaved client, stays within the budget's memory, and resets the
/// stalled streams after Node:ReplyStallTimeout so their memory goes back. Both endpoints.
/// </summary>
[Trait("Category", "Slow")]
public sealed class StalledReplyTests(ITestOutputHelper output)
{
    private const int BudgetBytes = 16 * 1024 * 1024;
    private const int Calls = 500;

    [Theory]
    [InlineData("true")]
    [InlineData("false")]
    public async Task AClientThatNeverReadsIsBoundedRefusedAndResetWhileOthersAreServed(string minimalEndpoint)
    {
        await using var node = await RunningNode.StartAsync(
        [
            "--store", "memory", "--minimal-endpoint", minimalEndpoint,
            "--Node:MaxPendingReplyBytes", BudgetBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Node:ReplyStallTimeout", "4s",
        ]);
        var big = Carts.NewId();
        var fill = new ApplyRequest { Id = big };
        for (var line = 0; line < 200; line++)
        {
            var sku = "sku-" + line.ToString(System.Globalization.CultureInfo.InvariantCulture) + new string('s', 990);
            fill.Messages.Add(Google.Protobuf.WellKnownTypes.Any.Pack(new AddItem
            {
                Sku = sku, Name = "name of " + sku, Image = new string('i', 1000), Quantity = 1, UnitPrice = 100, OriginalPrice = 100, TaxRate = 2500,
            }));
        }

        var filled = await node.Client.ApplyAsync(fill, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        var cartBytes = filled.State.Value.Length;
        Assert.InRange(cartBytes, 550_000, 700_000);
        var small = Carts.NewId();
        await node.Client.ApplyAsync(Carts.Apply(small, Carts.Item("sku-small")), deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        var budget = node.Get<ReplyBudget>();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);

        await using var stalled = await RawHttp2Client.ConnectAsync(node.GrpcPort);
        var get = new GetRequest { Id = big }.ToByteArray();
        var ids = await stalled.SendUnaryBurstAsync(RawGrpc.Service + "Get", Enumerable.Repeat(get, Calls).ToArray(), [], initialWindowSize: 0);
        var outcomes = stalled.ReadOutcomesAsync(ids, TestTimeouts.Default);

        // The budget fills and the calls beyond it are refused.
        var until = DateTime.UtcNow + TestTimeouts.Default;
        while (budget.Refused == 0 && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
        }

        Assert.True(budget.Refused > 0, $"nothing refused; {budget.Pending} bytes pending");
        Assert.InRange(budget.Pending, 0, BudgetBytes);
        // Meanwhile a well-behaved client is served (a small cart; a big one would find the budget full).
        var served = await node.Client.GetAsync(new GetRequest { Id = small }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Single(Carts.State(served).Items);
        // Memory stays near the budget: 500 unbounded replies held 300-500 MB.
        var memoryDuring = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(memoryDuring - memoryBefore < 4 * BudgetBytes, $"node memory grew {(memoryDuring - memoryBefore) / 1024 / 1024} MB with {budget.Pending / 1024 / 1024} MB of replies pending");

        // Every call ends: refused with RESOURCE_EXHAUSTED naming the setting, or its stalled stream reset.
        var outcome = await outcomes;
        Assert.False(outcome.TimedOut, outcome.Describe());
        var refused = outcome.Streams.Values.Where(s => s.GrpcStatus == (int)StatusCode.ResourceExhausted).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, s => Assert.Contains("Node:MaxPendingReplyBytes", s.GrpcMessage, StringComparison.Ordinal));
        var reset = outcome.Streams.Values.Count(s => s.ResetCode is not null);
        Assert.True(reset > 0 && reset + refused.Count == Calls, outcome.Describe());
        Assert.False(outcome.ConnectionClosed, outcome.Describe());
        output.WriteLine($"cart {cartBytes} B; memory +{(memoryDuring - memoryBefore) / 1024 / 1024} MB while stalled; {refused.Count} refused, {reset} reset; {outcome.Describe()}");

        // The reset streams gave their bytes back: a big reply is served again.
        until = DateTime.UtcNow + TestTimeouts.Default;
        while (budget.Pending > 0 && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, budget.Pending);
        var again = await node.Client.GetAsync(new GetRequest { Id = big }, deadline: GrpcTestExtensions.Deadline()).WithTimeout();
        Assert.Equal(200, Carts.State(again).Items.Count);
    }
}

using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using static CartActor.Persistence.Tests.Support.RuntimeDriving;

namespace CartActor.Persistence.Tests;

/// <summary>
/// A cart evicted while the pass being built holds its unwritten change must not be reloaded from the record
/// before that change: the reload's next Apply would replace the change in the pass, and the first caller
/// would be answered for a change that was never written (found over the wire: acknowledged AddItems missing
/// after a stale-view drop). One shard and one write in flight, so the second pass is built while the first
/// write is held.
/// </summary>
public sealed class EvictionDuringPassTests : IDisposable
{
    private const ulong CartX = 21, CartY = 22, CartZ = 23;

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_drop_of_every_cart_queued_behind_an_unwritten_change_keeps_that_change()
    {
        await using var gated = await StartAsync(new CartRuntimeOptions { ShardCount = 1, MaxWritesInFlightPerShard = 1 });
        var (rocks, store, runtime) = (gated.Rocks, gated.Store, gated.Runtime);
        store.Hold(3);

        var held = runtime.ApplyAsync(CartY, [AddItem("a")], "k-a").AsTask();
        await store.WaitForWritesAsync(3);
        var first = runtime.ApplyAsync(CartX, [AddItem("x1")], "k-x1").AsTask();
        var drop = runtime.EvictAllAsync();
        var second = runtime.ApplyAsync(CartX, [AddItem("x2")], "k-x2").AsTask();
        store.Release(3);

        await held.AnsweredAsync();
        await first.AnsweredAsync();
        await drop.WithTimeout();
        var last = await second.AnsweredAsync();

        Assert.Equal(["seed-x", "x1", "x2"], last.State.Items.Select(i => i.Sku));
        Assert.Equal(["seed-x", "x1", "x2"], rocks.Load(CartX)!.State.Items.Select(i => i.Sku));
    }

    [Fact]
    public async Task A_cart_with_an_unwritten_change_is_not_the_capacity_victim()
    {
        await using var gated = await StartAsync(new CartRuntimeOptions { ShardCount = 1, MaxWritesInFlightPerShard = 1, MaxActiveCarts = 2 });
        var (rocks, store, runtime) = (gated.Rocks, gated.Store, gated.Runtime);
        store.Hold(3);

        var held = runtime.ApplyAsync(CartY, [AddItem("a")], "k-a").AsTask();
        await store.WaitForWritesAsync(3);

        // X is changed in the pass being built, then Y is touched after it: X is the least recently used.
        var first = runtime.ApplyAsync(CartX, [AddItem("x1")], "k-x1").AsTask();
        var touchY = runtime.ApplyAsync(CartY, [AddItem("b")], "k-b").AsTask();
        var third = runtime.ApplyAsync(CartZ, [AddItem("z")], "k-z").AsTask();
        var second = runtime.ApplyAsync(CartX, [AddItem("x2")], "k-x2").AsTask();
        store.Release(3);

        await held.AnsweredAsync();
        await first.AnsweredAsync();
        await touchY.AnsweredAsync();
        await third.AnsweredAsync();
        var last = await second.AnsweredAsync();

        Assert.Equal(["seed-x", "x1", "x2"], last.State.Items.Select(i => i.Sku));
        Assert.Equal(["seed-x", "x1", "x2"], rocks.Load(CartX)!.State.Items.Select(i => i.Sku));
        Assert.Equal(["seed-y", "a", "b"], rocks.Load(CartY)!.State.Items.Select(i => i.Sku));
    }

    private Task<GatedRuntime> StartAsync(CartRuntimeOptions options) =>
        GatedRuntime.StartAsync(_directory.Path, options, (CartX, "seed-x"), (CartY, "seed-y"));
}

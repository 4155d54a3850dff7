using CartActor.Persistence.RocksDb;

namespace CartActor.Persistence.Tests.Support;

/// <summary>
/// A runtime writing through the embedded store (os mode) behind a <see cref="GatedStore"/>, with its seed carts
/// already live and written (one write each), so a test's own writes are numbered from <c>seeds + 1</c>. Owns all
/// three: dispose releases every held write, then disposes the runtime (with a timeout) and the store.
/// </summary>
internal sealed class GatedRuntime : IAsyncDisposable
{
    private GatedRuntime(RocksDbCartStore rocks, GatedStore store, CartRuntime runtime)
    {
        Rocks = rocks;
        Store = store;
        Runtime = runtime;
    }

    /// <summary>The store under the gate, to read what was written.</summary>
    public RocksDbCartStore Rocks { get; }

    public GatedStore Store { get; }

    public CartRuntime Runtime { get; }

    public static async Task<GatedRuntime> StartAsync(string path, CartRuntimeOptions options, params (ulong CartId, string Sku)[] seeds)
    {
        var rocks = RocksDbCartStore.Open(new RocksDbStoreOptions { Path = path, Mode = DurabilityMode.Os });
        var store = new GatedStore(rocks);
        var gated = new GatedRuntime(rocks, store, new CartRuntime(options, store: store));
        try
        {
            foreach (var (cartId, sku) in seeds)
            {
                await gated.Runtime.ApplyAsync(cartId, null, RuntimeDriving.AddItem(sku));
            }
        }
        catch
        {
            await gated.DisposeAsync();
            throw;
        }

        return gated;
    }

    public async ValueTask DisposeAsync()
    {
        Store.ReleaseAll();
        try
        {
            await Runtime.DisposeWithTimeoutAsync();
        }
        finally
        {
            Rocks.Dispose();
        }
    }
}

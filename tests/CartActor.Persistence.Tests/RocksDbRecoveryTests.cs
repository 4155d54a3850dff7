using System.Diagnostics;
using CartActor.Persistence.RocksDb;
using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Storage;

namespace CartActor.Persistence.Tests;

/// <summary>
/// The embedded store on a full disk (a small tmpfs filled by a ballast file): the first failed write starts an
/// episode in which writes fail at once naming the cause and reads go on; freeing the disk ends it by itself.
/// </summary>
[Trait("Category", "Tmpfs")]
public sealed class RocksDbRecoveryTests
{
    [Fact]
    public async Task AFullDisk_RefusesWritesFastWithItsCause_ReadsGoOn_AndWritesResumeOnceFreed()
    {
        using var disk = TmpfsMount.Create(megabytes: 8);
        using var store = RocksDbCartStore.Open(new RocksDbStoreOptions { Path = Path.Combine(disk.Path, "data") });
        var kept = Records.Cart(1, version: 1, items: 3);
        await store.WriteAsync([Records.Write(kept)]).WithTimeout();
        disk.Fill("ballast");

        var failed = await WriteUntilRefusedAsync(store);
        Assert.Equal(CartStoreError.Unavailable, failed.Error);
        Assert.Contains("No space left on device", failed.Message, StringComparison.Ordinal);
        Assert.False(store.IsAvailable);
        Assert.Equal(1, store.WriteFaults);
        Assert.Contains("No space left on device", store.LastWriteFault, StringComparison.Ordinal);

        // While the disk stays full: refused at once, the cause named, reads served, still one episode.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var during = Stopwatch.StartNew();
        var refused = await Assert.ThrowsAsync<CartStoreException>(() => store.WriteAsync([Records.Write(Records.Cart(2))]).AsTask()).WithTimeout();
        Assert.True(during.Elapsed < TimeSpan.FromMilliseconds(500), $"a refused write took {during.Elapsed}");
        Assert.Contains("refuses writes", refused.Message, StringComparison.Ordinal);
        Assert.Contains("No space left on device", refused.Message, StringComparison.Ordinal);
        Assert.Equal(kept, store.Load(1));
        Assert.False(store.IsAvailable);
        Assert.Equal(1, store.WriteFaults);
        Assert.True(store.RecoveryAttempts >= 2, $"{store.RecoveryAttempts} recovery attempts in 2 s");

        File.Delete(Path.Combine(disk.Path, "ballast"));
        var freed = Stopwatch.StartNew();
        while (!store.IsAvailable)
        {
            Assert.True(freed.Elapsed < TimeSpan.FromSeconds(10), "writes did not resume within 10 s of the disk being freed");
            await Task.Delay(50);
        }

        var after = Records.Cart(3, version: 1, items: 2);
        await store.WriteAsync([Records.Write(after)]).WithTimeout();
        Assert.Equal(after, store.Load(3));
        Assert.Equal(kept, store.Load(1));
        Assert.Equal(1, store.WriteFaults);
    }

    private static async Task<CartStoreException> WriteUntilRefusedAsync(RocksDbCartStore store)
    {
        for (ulong id = 100; id < 10_100; id++)
        {
            try
            {
                await store.WriteAsync([Records.Write(Records.Cart(id, items: 5))]).WithTimeout();
            }
            catch (CartStoreException ex)
            {
                return ex;
            }
        }

        throw new Xunit.Sdk.XunitException("10,000 writes on a full disk all succeeded");
    }
}

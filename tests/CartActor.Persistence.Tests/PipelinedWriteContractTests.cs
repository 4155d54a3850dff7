using CartActor.Cart.Messages;
using CartActor.Persistence.Tests.Redis;
using CartActor.Persistence.Tests.Support;
using CartActor.Tests.Shared;
using CartActor.Tests.Shared.Redis;

namespace CartActor.Persistence.Tests;

/// <summary>
/// What a pipelined shard needs from every store (ICartStore.WriteAsync's contract): the records are read
/// before WriteAsync returns, because the shard's next pass changes the same live records while the write is
/// in flight; and a shard's writes land in the order it issued them.
/// </summary>
[Trait("Category", "Redis")]
public sealed class PipelinedWriteContractTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>, IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(StoreKinds.RocksDbFsync)]
    [InlineData(StoreKinds.RocksDbOs)]
    [InlineData(StoreKinds.Redis)]
    public async Task A_record_changed_after_WriteAsync_returned_is_stored_as_it_was_when_the_write_was_issued(string kind)
    {
        using var store = StoreKinds.Open(kind, _directory.Path, redis);
        var live = Records.Cart(5, version: 1);
        var issued = live.Clone();

        var write = store.WriteAsync([new CartWrite(5, live, ExpectedVersion: 0)]);
        live.State.Version = 2;
        live.State.Items[0].Quantity = 99;
        Assert.Empty(await write.WithTimeout());

        Assert.Equal(issued, store.Load(5));
    }

    [Theory]
    [InlineData(StoreKinds.RocksDbFsync)]
    [InlineData(StoreKinds.RocksDbOs)]
    [InlineData(StoreKinds.Redis)]
    public async Task Writes_issued_back_to_back_land_in_issue_order(string kind)
    {
        using var store = StoreKinds.Open(kind, _directory.Path, redis);
        var writes = new List<ValueTask<IReadOnlyCollection<ulong>>>();
        for (ulong version = 1; version <= 16; version++)
        {
            writes.Add(store.WriteAsync([new CartWrite(6, Records.Cart(6, version), ExpectedVersion: version - 1, Writer: 1, ExpectedWriter: version == 1 ? 0UL : 1UL)]));
        }

        foreach (var write in writes)
        {
            Assert.Empty(await write.WithTimeout());
        }

        Assert.Equal(16UL, store.Load(6)!.State.Version);
    }
}

using CartActor.Ownership;

namespace CartActor.Core.Tests;

/// <summary>The ring's promises, over many cart ids: determinism, balance, minimal movement.</summary>
public sealed class RingPropertyTests
{
    private const int Carts = 200_000;

    private static string[] Hosts(int n) => Enumerable.Range(0, n).Select(i => $"cart-{i}.cart.shop.svc:1337").ToArray();

    private static int[] Owners(RingSnapshot ring) =>
        Enumerable.Range(1, Carts).Select(i => ring.OwnerIndexOf((ulong)i * 2654435761UL)).ToArray();

    [Fact]
    public void SameMemberSetGivesSameOwnersWhateverTheOrderAndSelf()
    {
        var hosts = Hosts(5);
        var a = RingSnapshot.Create(hosts, hosts[0], 1);
        var b = RingSnapshot.Create(hosts.Reverse().Select(h => h.ToUpperInvariant()), hosts[3], 42);
        Assert.Equal(a.RingId, b.RingId);
        for (ulong id = 1; id < 20_000; id++)
        {
            Assert.Equal(a.OwnerOf(id), b.OwnerOf(id));
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(8)]
    [InlineData(12)]
    [InlineData(16)]
    public void BusiestMemberOwnsAtMostOneAndATenthOfTheMean(int n)
    {
        var hosts = Hosts(n);
        var counts = new int[n];
        foreach (var owner in Owners(RingSnapshot.Create(hosts, hosts[0], 1)))
        {
            counts[owner]++;
        }

        var mean = (double)Carts / n;
        Assert.True(counts.Max() <= 1.1 * mean, $"busiest owns {counts.Max()} carts, mean {mean:F0} ({counts.Max() / mean:F3} x)");
    }

    [Theory]
    [InlineData(3, 0)]
    [InlineData(3, 1)]
    [InlineData(4, 2)]
    [InlineData(8, 0)]
    [InlineData(8, 5)]
    [InlineData(16, 7)]
    public void LeavingMovesOnlyTheLeaversCartsAndAboutItsShare(int n, int leaver)
    {
        var hosts = Hosts(n);
        var before = RingSnapshot.Create(hosts, hosts[leaver == 0 ? 1 : 0], 1);
        var after = RingSnapshot.Create(hosts.Where((_, i) => i != leaver), hosts[leaver == 0 ? 1 : 0], 2);
        AssertMinimalMove(before, after, n);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(15)]
    public void JoiningMovesOnlyCartsToTheNewMemberAndAboutItsShare(int n)
    {
        var hosts = Hosts(n + 1);
        // The joiner sorts into the middle of the member list, not only at the end.
        var joiner = hosts[n / 2];
        var stayers = hosts.Where(h => h != joiner).ToArray();
        var before = RingSnapshot.Create(stayers, stayers[0], 1);
        var after = RingSnapshot.Create(hosts, stayers[0], 2);
        AssertMinimalMove(before, after, n + 1);
        for (ulong id = 1; id < 50_000; id++)
        {
            var was = before.OwnerOf(id);
            var now = after.OwnerOf(id);
            Assert.True(was == now || now == RingSnapshot.Normalize(joiner), $"cart {id} moved from {was} to {now}, not to the joiner");
        }
    }

    [Fact]
    public void LookupSaysLocalRemoteOrSuspect()
    {
        var hosts = Hosts(3);
        var ring = RingSnapshot.Create(hosts, hosts[0], 1, new HashSet<string> { hosts[1] });
        var kinds = new HashSet<OwnerKind>();
        for (ulong id = 1; id < 1000; id++)
        {
            var lookup = ring.Lookup(id);
            kinds.Add(lookup.Kind);
            var expected = lookup.Owner == hosts[0] ? OwnerKind.Local : lookup.Owner == hosts[1] ? OwnerKind.Suspect : OwnerKind.Remote;
            Assert.Equal(expected, lookup.Kind);
        }

        Assert.Equal(3, kinds.Count);
    }

    [Fact]
    public void OwnershipMapPublishesNewEpochsAndKeepsHistory()
    {
        var map = new OwnershipMap("a:1");
        var first = map.Current;
        Assert.Equal(["a:1"], first.Members);
        var second = map.Publish(["b:1", "c:1"], new HashSet<string>());
        Assert.True(second.Epoch > first.Epoch);
        Assert.Same(first, map.History[0]);
        Assert.Same(second, map.Publish(["c:1", "b:1"], new HashSet<string>()));
        var suspect = map.Publish(["b:1", "c:1"], new HashSet<string> { "b:1" });
        Assert.Equal(second.RingId, suspect.RingId);
        Assert.True(suspect.IsSuspect(1));
    }

    private static void AssertMinimalMove(RingSnapshot before, RingSnapshot after, int largerSetSize)
    {
        var moved = 0;
        for (var i = 1; i <= Carts; i++)
        {
            var id = (ulong)i * 2654435761UL;
            var was = before.OwnerOf(id);
            var now = after.OwnerOf(id);
            if (was == now)
            {
                continue;
            }

            moved++;
            Assert.True(!after.Contains(was) || !before.Contains(now), $"cart {id} moved between two members that both stayed: {was} -> {now}");
        }

        var ideal = (double)Carts / largerSetSize;
        Assert.True(moved <= 1.1 * ideal, $"{moved} carts moved, ideal share {ideal:F0} ({moved / ideal:F3} x)");
    }
}

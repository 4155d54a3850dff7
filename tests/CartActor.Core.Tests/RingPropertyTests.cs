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
    public void ASuspectOwnersCartsAreServedByTheNextRendezvousChoiceAndNoOtherCartMoves()
    {
        var hosts = Hosts(3);
        var healthy = RingSnapshot.Create(hosts, hosts[0], 1);
        var withoutSuspect = RingSnapshot.Create(hosts.Where(h => h != hosts[1]), hosts[0], 1);
        var ring = RingSnapshot.Create(hosts, hosts[0], 2, new HashSet<string> { hosts[1] });
        var kinds = new HashSet<OwnerKind>();
        for (ulong id = 1; id < 5000; id++)
        {
            var lookup = ring.Lookup(id);
            kinds.Add(lookup.Kind);
            Assert.NotEqual(hosts[1], lookup.Owner);
            Assert.Equal(healthy.OwnerOf(id), ring.OwnerOf(id));

            // The stand-in is exactly who would own the cart if the suspect were gone: no second move on removal.
            Assert.Equal(withoutSuspect.OwnerOf(id), lookup.Owner);
            Assert.Equal(lookup.Owner == hosts[0] ? OwnerKind.Local : OwnerKind.Remote, lookup.Kind);
        }

        Assert.Equal(2, kinds.Count);
    }

    [Fact]
    public void ANodeItsPeersDoNotCountYetServesNothing_ItsCartsGoToTheirStandIns()
    {
        var hosts = Hosts(3);
        var pending = RingSnapshot.Create(hosts, hosts[0], 1, new HashSet<string> { hosts[0] });
        var without = RingSnapshot.Create(hosts.Skip(1), hosts[0], 1, includeSelf: false);
        for (ulong id = 1; id < 3000; id++)
        {
            var lookup = pending.Lookup(id);
            Assert.Equal(OwnerKind.Remote, lookup.Kind);
            Assert.Equal(without.OwnerOf(id), lookup.Owner);
        }

        // Alone, a node serves everything even while unconfirmed: there is nobody else.
        var alone = RingSnapshot.Create([hosts[0]], hosts[0], 1, new HashSet<string> { hosts[0] });
        Assert.Equal(OwnerKind.Local, alone.Lookup(42).Kind);
    }

    [Fact]
    public void OwnershipMapPublishesNewEpochs()
    {
        var map = new OwnershipMap("a:1");
        var first = map.Current;
        Assert.Equal(["a:1"], first.Members);
        var second = map.Publish(["b:1", "c:1"], new HashSet<string>());
        Assert.True(second.Epoch > first.Epoch);
        Assert.Same(second, map.Publish(["c:1", "b:1"], new HashSet<string>()));
        var suspect = map.Publish(["b:1", "c:1"], new HashSet<string> { "b:1" });
        Assert.Equal(second.RingId, suspect.RingId);
        Assert.True(suspect.IsSuspect(1));
    }

    [Fact]
    public async Task LeaveIsFinalEvenWhenItRacesPublishes()
    {
        // The issue measured a draining node taking its carts back in 152 of 200 rounds (Leave raced a publish).
        for (var round = 0; round < 200; round++)
        {
            var map = new OwnershipMap("a:1");
            map.Publish(["b:1", "c:1"], new HashSet<string>());
            using var start = new Barrier(3);
            var publishers = Enumerable.Range(0, 2).Select(p => Task.Run(() =>
            {
                start.SignalAndWait();
                for (var i = 0; i < 50; i++)
                {
                    map.Publish(i % 2 == p ? ["b:1", "c:1"] : ["b:1", "c:1", "d:1"], new HashSet<string>());
                }
            })).ToArray();
            start.SignalAndWait();
            map.Leave();
            await Task.WhenAll(publishers).WaitAsync(TimeSpan.FromSeconds(10));

            Assert.True(map.Current.IsLeaving, $"round {round}: the node is back in its ring after leaving");
            Assert.False(map.Current.Contains("a:1"));
            Assert.Same(map.Current, map.Publish(["b:1"], new HashSet<string>()));
        }
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

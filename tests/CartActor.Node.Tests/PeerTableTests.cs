using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using Microsoft.Extensions.Time.Testing;

namespace CartActor.Node.Tests;

/// <summary>The membership rules on a fake clock: no sockets, no sleeps.</summary>
public sealed class PeerTableTests
{
    private const string Self = "self:1";
    private readonly FakeTimeProvider _clock = new();
    private readonly ClusterOptions _options = new() { SuspectAfterMisses = 3, DeadAfter = TimeSpan.FromSeconds(10) };
    private readonly PeerTable _table;

    public PeerTableTests() => _table = new PeerTable(_options, maxKnownHosts: 4, _clock);

    [Fact]
    public void ACandidateOwnsNothingUntilItAnswers_ThenItIsAMember()
    {
        Assert.Equal(1, _table.Learn(["B:1"], Self));
        Assert.Equal(PeerStatus.Candidate, _table.StatusOf("b:1"));
        Assert.Empty(_table.Members);

        var events = Round(("b:1", "b:1"), out var changed);

        Assert.True(changed);
        Assert.Equal(PeerEventKind.Alive, Assert.Single(events).Kind);
        Assert.Equal(["b:1"], _table.Members);
    }

    [Fact]
    public void ACandidateThatNeverAnswersIsForgottenAfterTheDeadAfterTime_WithoutEverBeingAMember()
    {
        _table.Learn(["typo:1"], Self);
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(Round(("typo:1", null), out var early));
        Assert.False(early);

        _clock.Advance(TimeSpan.FromSeconds(1));
        var events = Round(("typo:1", null), out var changed);

        Assert.False(changed);
        Assert.Equal(PeerEventKind.Forgotten, Assert.Single(events).Kind);
        Assert.Null(_table.StatusOf("typo:1"));
    }

    [Fact]
    public void AMemberIsSuspectAfterTheMissesInARow_DeadAfterTheDeadAfterTimeSinceLastHeard_AndAliveAgainWhenItAnswers()
    {
        _table.Learn(["b:1", "c:1"], Self);
        Round([("b:1", "b:1"), ("c:1", "c:1")], out _);

        Round(("b:1", null), out var first);
        Round(("b:1", null), out var second);
        Assert.False(first || second);
        Assert.Equal(PeerStatus.Alive, _table.StatusOf("b:1"));

        var suspect = Round(("b:1", null), out var third);
        Assert.True(third);
        Assert.Equal(PeerEventKind.Suspect, Assert.Single(suspect).Kind);
        Assert.Equal(["b:1"], _table.Suspects);
        Assert.Contains("b:1", _table.Members);

        // An answer makes it alive again, with a fresh count.
        Round(("b:1", "b:1"), out var back);
        Assert.True(back);
        Assert.Equal(PeerStatus.Alive, _table.StatusOf("b:1"));

        // Silent from now on: suspect after 3 misses, dead once 10 s have passed since it was last heard.
        for (var i = 0; i < 3; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            Round(("b:1", null), out _);
        }

        Assert.Equal(PeerStatus.Suspect, _table.StatusOf("b:1"));
        _clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Empty(Round(("b:1", null), out _));
        _clock.Advance(TimeSpan.FromSeconds(1));
        var dead = Round(("b:1", null), out var removed);

        Assert.True(removed);
        Assert.Equal(PeerEventKind.Dead, Assert.Single(dead).Kind);
        Assert.Equal(["c:1"], _table.Members);
    }

    [Fact]
    public void ARefusedConnectionMakesAnAliveMemberSuspectAtOnce_NotACandidate()
    {
        _table.Learn(["b:1", "c:1"], Self);
        Round(("b:1", "b:1"), out _);

        Assert.True(_table.MarkUnreachable("B:1"));
        Assert.False(_table.MarkUnreachable("c:1"));
        Assert.False(_table.MarkUnreachable("b:1"));

        Assert.Equal(PeerStatus.Suspect, _table.StatusOf("b:1"));
        Assert.Equal(PeerStatus.Candidate, _table.StatusOf("c:1"));
    }

    [Fact]
    public void AnAddressAnsweringWithItsNameBecomesThatName_AndOneAnsweringAsThisNodeIsDropped()
    {
        _table.Learn(["10.0.0.2:1", "10.0.0.9:1"], Self);

        Round([("10.0.0.2:1", "cart-1:1"), ("10.0.0.9:1", Self)], out var changed);

        Assert.True(changed);
        Assert.Equal(["cart-1:1"], _table.Members);
        Assert.Null(_table.StatusOf("10.0.0.2:1"));
        Assert.Null(_table.StatusOf("10.0.0.9:1"));
    }

    [Fact]
    public void TheTableIsBoundedAndSkipsSelfKnownAndMalformedHosts()
    {
        Assert.Equal(4, _table.Learn([Self, "a:1", "a:1", "no-port", "b:1", "c:1", "d:1", "e:1"], Self));
        Assert.Equal(4, _table.Count);
        Assert.Null(_table.StatusOf("e:1"));
        Assert.True(_table.Remove("A:1"));
        Assert.False(_table.Remove("a:1"));
    }

    private List<PeerEvent> Round((string Host, string? AnsweredAs) result, out bool changed) => Round([result], out changed);

    private List<PeerEvent> Round((string Host, string? AnsweredAs)[] results, out bool changed) =>
        _table.ApplyPings(results, Self, out changed);
}

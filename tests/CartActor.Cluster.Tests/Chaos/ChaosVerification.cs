using System.Text;
using CartActor.ControlPlane;
using Google.Protobuf;
using Grpc.Core;
using Xunit.Abstractions;

namespace CartActor.Cluster.Tests.Chaos;

/// <summary>
/// After a run: every cart the clients wrote, read through every given node. Lost: an acknowledged sku
/// missing from some node's answer. Duplicated: a line whose quantity is not 1 (one AddItem applied twice).
/// Foreign: a sku never sent to that cart. Divergent: two nodes answering different states for one cart.
/// A sku whose call failed may or may not be there (the client cannot know); it is counted, not judged.
/// </summary>
internal static class ChaosVerification
{
    public static async Task<ChaosReport> VerifyAsync(ChaosLoad load, IReadOnlyList<NodeProcess> nodes)
    {
        var report = new ChaosReport(load);
        var failedSkus = load.Failures.Where(f => f.Call == "apply").Select(f => f.Sku).ToHashSet();
        await Parallel.ForEachAsync(load.Sent, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (cart, _) =>
        {
            var (cartId, sent) = cart;
            load.Acknowledged.TryGetValue(cartId, out var acknowledged);
            ByteString? first = null;
            foreach (var node in nodes)
            {
                GetReply reply;
                try
                {
                    reply = await node.Client.GetAsync(new GetRequest { Id = cartId }, deadline: DateTime.UtcNow.AddSeconds(10));
                }
                catch (RpcException ex)
                {
                    report.Add(ref report.UnreadableCarts, $"cart {cartId} via {node.AdvertisedHost}: {ex.StatusCode} {ex.Status.Detail}");
                    continue;
                }

                var state = TestCluster.State(reply);
                var lines = state.Items.GroupBy(i => i.Sku).ToDictionary(g => g.Key, g => g.Sum(i => i.Quantity));
                foreach (var sku in acknowledged?.Keys ?? Enumerable.Empty<string>())
                {
                    if (!lines.ContainsKey(sku))
                    {
                        report.Add(ref report.Lost, $"cart {cartId} via {node.AdvertisedHost} lacks acknowledged {sku}");
                    }
                }

                foreach (var (sku, quantity) in lines)
                {
                    if (quantity != 1)
                    {
                        report.Add(ref report.Duplicated, $"cart {cartId} via {node.AdvertisedHost}: {sku} has quantity {quantity}");
                    }

                    if (!sent.ContainsKey(sku))
                    {
                        report.Add(ref report.Foreign, $"cart {cartId} via {node.AdvertisedHost}: {sku} was never sent to it");
                    }
                }

                if (first is null)
                {
                    first = reply.Grain.Value;
                    Interlocked.Add(ref report.FailedButApplied, lines.Keys.Count(failedSkus.Contains));
                }
                else if (!first.Equals(reply.Grain.Value))
                {
                    report.Add(ref report.DivergentCarts, $"cart {cartId}: {node.AdvertisedHost} answers a different state (version {state.Version}, {state.Items.Count} lines) than {nodes[0].AdvertisedHost}");
                }
            }
        });
        return report;
    }
}

/// <summary>What a run did and what the carts hold afterwards; <see cref="ToString"/> is the report a test prints.</summary>
internal sealed class ChaosReport(ChaosLoad load)
{
    private readonly List<string> _problems = [];

    public int Lost;
    public int Duplicated;
    public int Foreign;
    public int DivergentCarts;
    public int UnreadableCarts;
    public int FailedButApplied;

    public int Acknowledged => load.AcknowledgedCount;

    public int Carts => load.Sent.Count;

    public IReadOnlyCollection<CallFailure> Failures => load.Failures;

    public int StaleReads => load.StaleReads.Count;

    /// <summary>Asserts no acknowledged line lost, none applied twice or out of place, every node agreeing, every cart readable.</summary>
    public void AssertConsistent()
    {
        Assert.True(Acknowledged > 0, $"nothing was acknowledged: the load did not run\n{this}");
        Assert.True(Lost == 0 && Duplicated == 0 && Foreign == 0 && DivergentCarts == 0 && UnreadableCarts == 0, ToString());
    }

    public void Add(ref int counter, string problem)
    {
        Interlocked.Increment(ref counter);
        lock (_problems)
        {
            if (_problems.Count < 20)
            {
                _problems.Add(problem);
            }
        }
    }

    public void WriteTo(ITestOutputHelper output) => output.WriteLine(ToString());

    public override string ToString()
    {
        var text = new StringBuilder()
            .AppendLine($"acknowledged {Acknowledged} on {Carts} carts; lost {Lost}, duplicated {Duplicated}, foreign {Foreign}, divergent carts {DivergentCarts}, unreadable {UnreadableCarts}; stale reads {StaleReads}; failed calls {Failures.Count} (of which applied anyway {FailedButApplied})");
        foreach (var group in Failures.GroupBy(f => (f.Call, f.Phase, f.Node, f.Status)).OrderBy(g => g.Min(f => f.Started)))
        {
            text.AppendLine($"  failed {group.Key.Call} [{group.Key.Phase}] via {group.Key.Node}: {group.Count()} x {group.Key.Status}, {group.Min(f => f.Started).TotalSeconds:F2}-{group.Max(f => f.Ended).TotalSeconds:F2}s, e.g. {group.First().Detail}");
        }

        foreach (var (at, what) in load.Events)
        {
            text.AppendLine($"  {at.TotalSeconds,7:F2}s {what}");
        }

        lock (_problems)
        {
            foreach (var problem in _problems)
            {
                text.AppendLine($"  ! {problem}");
            }
        }

        foreach (var stale in load.StaleReads.Take(10))
        {
            text.AppendLine($"  ! stale: {stale}");
        }

        return text.ToString();
    }
}

using CartActor.Node.Hosting;
using CartActor.Ownership;

namespace CartActor.Node.Membership;

/// <summary>
/// Holds this node's ownership map. Created on first use because the advertised host (and so the ring's
/// "self") is known only once Kestrel has bound its port.
/// </summary>
public sealed class ClusterView(NodeIdentity identity)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _dead = new(StringComparer.Ordinal);
    private OwnershipMap? _map;

    /// <summary>A member removed because it stopped answering (not one that said Closing): whatever it held is gone.</summary>
    public bool IsDead(string host) => _dead.ContainsKey(host);

    public void MarkDead(string host) => _dead[host] = 0;

    public void MarkAlive(string host) => _dead.TryRemove(host, out _);

    public OwnershipMap Map => LazyInitializer.EnsureInitialized(ref _map, () => new OwnershipMap(identity.AdvertisedHost));

    public RingSnapshot Ring => Map.Current;

    public string Self => Map.Current.Self;
}

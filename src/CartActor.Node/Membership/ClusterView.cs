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

    // Read on every Apply and Get: a plain read once the map exists. Passing the instance method group to
    // LazyInitializer on every read allocated a Func<OwnershipMap> per call (an allocation profile showed it).
    public OwnershipMap Map => Volatile.Read(ref _map) ?? LazyInitializer.EnsureInitialized(ref _map, CreateMap);

    /// <summary>Raised on the membership heartbeat after each change of the member set (old ring, new ring).</summary>
    public event Action<RingSnapshot, RingSnapshot>? RingChanged;

    private OwnershipMap CreateMap()
    {
        if (identity.GrpcPort == 0)
        {
            throw new InvalidOperationException("The ring cannot be built before Kestrel has bound the gRPC port.");
        }

        var map = new OwnershipMap(identity.AdvertisedHost);
        map.Changed += (before, after) => RingChanged?.Invoke(before, after);
        return map;
    }

    public RingSnapshot Ring => Map.Current;

    public string Self => Map.Current.Self;
}

namespace CartActor.Node.Hosting;

/// <summary>Settings of the shared Redis store (configuration section "Redis"); used only with --store redis://.</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>
    /// Replicas that must confirm each write batch (Redis WAIT) before its Applies are acknowledged; 0 waits
    /// for none. Standalone and Sentinel deployments. Default 0.
    /// </summary>
    public int WaitReplicas { get; set; }

    public string? Validate() =>
        WaitReplicas is < 0 or > 64 ? $"Redis:WaitReplicas must be 0..64 (was {WaitReplicas})" : null;
}

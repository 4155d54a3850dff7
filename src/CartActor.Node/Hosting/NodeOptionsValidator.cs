using Microsoft.Extensions.Options;

namespace CartActor.Node.Hosting;

/// <summary>Checks the node's settings at start-up; every failure names the setting it is about.</summary>
internal sealed class NodeOptionsValidator : IValidateOptions<NodeOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeOptions options)
    {
        var failures = new List<string>();
        if (options.Port is < 0 or > 65535) failures.Add($"Node:Port (--port) must be 0..65535 (was {options.Port})");
        if (options.HttpPort is < 0 or > 65535) failures.Add($"Node:HttpPort (--http-port) must be 0..65535 (was {options.HttpPort})");
        if (options.Port != 0 && options.Port == options.HttpPort) failures.Add($"Node:Port and Node:HttpPort must differ (both {options.Port})");
        if (string.IsNullOrWhiteSpace(options.Bind)) failures.Add("Node:Bind (--bind) must not be empty");
        else if (!BindAddress.TryParse(options.Bind, out _)) failures.Add($"Node:Bind (--bind) '{options.Bind}' is not an IP address, 'localhost' or '*'");
        if (options.Host is not null && !HostName.IsValidHostOrHostPort(options.Host)) failures.Add($"Node:Host (--host) '{options.Host}' must be 'name' or 'name:port'");
        foreach (var seed in options.Seeds)
        {
            if (!HostName.TryParse(seed, out _)) failures.Add($"Node:Seeds (--seeds) entry '{seed}' must be 'name:port'");
        }

        if (string.IsNullOrWhiteSpace(options.DataDir)) failures.Add("Node:DataDir (--data-dir) must not be empty");
        if (!StoreFactory.IsKnownStore(options.Store)) failures.Add($"Node:Store (--store) '{StoreFactory.Describe(options.Store)}' must be 'rocksdb', 'memory' or 'redis://host:port'");
        if (options.Seeds.Length > 0 && options.Store == "rocksdb") failures.Add("Node:Store (--store) 'rocksdb' keeps carts on this node's disk; a cluster (Node:Seeds) needs a shared store: --store redis://host:port");
        if (options.Durability is not ("fsync" or "os")) failures.Add($"Node:Durability (--durability) '{options.Durability}' must be 'fsync' or 'os'");
        if (options.GroupCommitDelayMicroseconds is < 0 or > 1000) failures.Add($"Node:GroupCommitDelayMicroseconds must be 0..1000 (was {options.GroupCommitDelayMicroseconds})");
        if (options.Retention < TimeSpan.FromMinutes(1)) failures.Add($"Node:Retention must be at least 1 minute (was {options.Retention})");
        if (options.RetentionSweepInterval <= TimeSpan.Zero) failures.Add($"Node:RetentionSweepInterval must be positive (was {options.RetentionSweepInterval})");
        if (options.MaxMessageSize is < 1024 or > 256 * 1024 * 1024) failures.Add($"Node:MaxMessageSize must be 1 KiB..256 MiB (was {options.MaxMessageSize})");
        if (options.MaxConnections is < 0 or > 1_000_000) failures.Add($"Node:MaxConnections must be 0 (sized from the open-file limit) or 1..1000000 (was {options.MaxConnections})");
        if (options.MaxStreamsPerConnection is < 1 or > 100_000) failures.Add($"Node:MaxStreamsPerConnection must be 1..100000 (was {options.MaxStreamsPerConnection})");
        if (options.MaxPendingReplyBytes is < 1024 * 1024 or > 1L << 40) failures.Add($"Node:MaxPendingReplyBytes must be 1 MiB..1 TiB (was {options.MaxPendingReplyBytes})");
        if (options.ReplyStallTimeout < TimeSpan.FromSeconds(1) || options.ReplyStallTimeout > TimeSpan.FromHours(1)) failures.Add($"Node:ReplyStallTimeout must be 1 s..1 h (was {options.ReplyStallTimeout})");
        if (options.ShutdownTimeout <= TimeSpan.Zero) failures.Add($"Node:ShutdownTimeout must be positive (was {options.ShutdownTimeout})");
        if (options.DrainDelay < TimeSpan.Zero || options.DrainDelay >= options.ShutdownTimeout) failures.Add($"Node:DrainDelay must be at least 0 and less than Node:ShutdownTimeout ({options.ShutdownTimeout}) (was {options.DrainDelay})");
        if (options.MaxWatchersPerCart < 1) failures.Add($"Node:MaxWatchersPerCart must be at least 1 (was {options.MaxWatchersPerCart})");
        if (options.MaxWatchersPerNode < 1) failures.Add($"Node:MaxWatchersPerNode must be at least 1 (was {options.MaxWatchersPerNode})");
        if (options.MaxIdsPerAnnouncement is < 1 or > 1_000_000) failures.Add($"Node:MaxIdsPerAnnouncement must be 1..1000000 (was {options.MaxIdsPerAnnouncement})");
        if (options.MaxCandidates < 1) failures.Add($"Node:MaxCandidates must be at least 1 (was {options.MaxCandidates})");
        if (options.MaxKnownHosts < 1) failures.Add($"Node:MaxKnownHosts must be at least 1 (was {options.MaxKnownHosts})");
        if (!TracingHosting.IsKnown(options.Traces)) failures.Add($"Node:Traces (--traces) '{options.Traces}' must be 'off' or 'otlp'");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

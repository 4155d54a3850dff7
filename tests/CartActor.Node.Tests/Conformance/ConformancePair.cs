using CartActor.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;

namespace CartActor.Node.Tests.Conformance;

/// <summary>
/// Two nodes alike in every setting but Node:MinimalEndpoint: one serves Apply and Get with the minimal endpoint, the
/// other through Grpc.AspNetCore. Both have a cluster key (so the peer-auth rules apply), a 4 KiB message limit (so
/// "too large" is cheap to send) and a clock whose wall time stands still (updated_at in a reply is the same on
/// both, so replies compare byte for byte; timers and timestamps run as usual).
/// </summary>
public sealed class ConformancePair : IAsyncLifetime
{
    public const string ClusterKey = "conformance-key-0123456789";
    public const int MaxMessageSize = 4096;

    public RunningNode Minimal { get; private set; } = null!;

    public RunningNode Stock { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Minimal = await StartAsync(minimal: true);
        Stock = await StartAsync(minimal: false);
    }

    private static Task<RunningNode> StartAsync(bool minimal) => StartNodeAsync(minimal, ["--store", "memory"]);

    /// <summary>A node of either kind, with the pair's key, message limit and clock.</summary>
    internal static Task<RunningNode> StartNodeAsync(bool minimal, string[] args) => RunningNode.StartAsync(
        [.. args, "--cluster-key", ClusterKey, "--Node:MaxMessageSize", MaxMessageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
         "--minimal-endpoint", minimal ? "true" : "false"],
        builder => builder.Services.AddSingleton<TimeProvider>(new StillWallClock()));

    public async Task DisposeAsync()
    {
        await Minimal.DisposeAsync();
        await Stock.DisposeAsync();
    }

    /// <summary>The system clock with a fixed wall time: timers and timestamps are real.</summary>
    internal sealed class StillWallClock : TimeProvider
    {
        private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }
}

[CollectionDefinition(Name)]
public sealed class ConformanceCollection : ICollectionFixture<ConformancePair>
{
    public const string Name = "Conformance pair";
}

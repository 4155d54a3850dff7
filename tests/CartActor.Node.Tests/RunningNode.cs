using CartActor.Node.Hosting;
using CartActor.Tests.Shared;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;

namespace CartActor.Node.Tests;

/// <summary>
/// One real node, built by <see cref="NodeHost.Build"/> exactly as Program.cs builds it, listening on free
/// loopback ports, plus a gRPC channel and an HTTP client pointed at it. Owns all three; dispose stops the node.
/// </summary>
public sealed class RunningNode : IAsyncDisposable
{
    private readonly List<GrpcChannel> _channels = [];
    private int _stopped;

    private RunningNode(WebApplication app)
    {
        App = app;
        var identity = app.Services.GetRequiredService<NodeIdentity>();
        GrpcPort = identity.GrpcPort;
        HttpPort = identity.HttpPort;
        AdvertisedHost = identity.AdvertisedHost;
        Channel = NewChannel();
        Client = new ControlPlaneClient(Channel);
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TestTimeouts.Default };
    }

    public WebApplication App { get; }

    public IServiceProvider Services => App.Services;

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public string AdvertisedHost { get; }

    public GrpcChannel Channel { get; }

    public ControlPlaneClient Client { get; }

    public HttpClient Http { get; }

    /// <summary>
    /// Starts a node on 127.0.0.1 with ports 0 (Kestrel picks free ones). <paramref name="extraArgs"/> are
    /// appended to the command line; <paramref name="customize"/> runs inside NodeHost.Build.
    /// </summary>
    public static async Task<RunningNode> StartAsync(string[]? extraArgs = null, Action<WebApplicationBuilder>? customize = null)
    {
        // A short shutdown timeout so that a test that fails mid-call cannot hold the run for NodeHost's 25 s default,
        // and no drain delay (5 s by default) unless a test asks for one.
        // Each node gets its own embedded store (the deployed default: RocksDB) in a fresh directory.
        var dataDir = Path.Combine(Path.GetTempPath(), "cartactor-tests", Guid.NewGuid().ToString("n"));
        string[] args = ["--port", "0", "--http-port", "0", "--host", "127.0.0.1", "--data-dir", dataDir, "--Node:ShutdownTimeout", "00:00:10", "--Node:DrainDelay", "00:00:00", .. extraArgs ?? []];
        var app = NodeHost.Build(args, builder =>
        {
            // Warnings and errors only; appsettings.json asks Information of every category, so override it there.
            builder.Configuration["Logging:LogLevel:Default"] = nameof(LogLevel.Warning);
            builder.Configuration["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = nameof(LogLevel.Warning);
            customize?.Invoke(builder);
        });

        try
        {
            await app.StartAsync().WithTimeout();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new RunningNode(app) { DataDir = dataDir };
    }

    /// <summary>This node's embedded store directory, deleted when the node is disposed.</summary>
    public string DataDir { get; private init; } = string.Empty;

    /// <summary>A separate channel (its own HTTP/2 connections) to this node; disposed with the node.</summary>
    public GrpcChannel NewChannel(GrpcChannelOptions? options = null)
    {
        var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}", options ?? new GrpcChannelOptions());
        lock (_channels)
        {
            _channels.Add(channel);
        }

        return channel;
    }

    public T Get<T>() where T : notnull => App.Services.GetRequiredService<T>();

    /// <summary>Graceful stop, as SIGTERM does it: readiness off, Kestrel drains, carts are evicted.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await App.StopAsync().WithTimeout();
        }
    }

    public async Task<string> GetMetricsAsync()
    {
        using var response = await Http.GetAsync("/metrics").WithTimeout();
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync().WithTimeout();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        lock (_channels)
        {
            foreach (var channel in _channels)
            {
                channel.Dispose();
            }
        }

        await StopAsync();
        await App.DisposeAsync().AsTask().WithTimeout();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the temp directory is the OS's to clean.
        }
    }
}

/// <summary>The node shared by the read-mostly suites; every test there uses its own cart ids and host names.</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    private RunningNode? _node;

    public RunningNode Node => _node ?? throw new InvalidOperationException("The node has not started.");

    public async Task InitializeAsync() => _node = await RunningNode.StartAsync();

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SharedNodeCollection : ICollectionFixture<NodeFixture>
{
    public const string Name = "Shared node";
}

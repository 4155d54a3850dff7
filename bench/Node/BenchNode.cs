using CartActor.Node.Hosting;
using CartActor.Node.Membership;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;

namespace CartActor.Bench.Node;

/// <summary>
/// One real node in this process, built by <see cref="NodeHost.Build"/> exactly as Program.cs builds it,
/// on free loopback ports, with a gRPC channel to it. Used by the node and cluster suites; started in
/// [GlobalSetup] and disposed in [GlobalCleanup], never inside a measured method.
/// </summary>
internal sealed class BenchNode : IDisposable
{
    private static readonly TimeSpan StartStopTimeout = TimeSpan.FromSeconds(30);

    private BenchNode(WebApplication app, string dataDir)
    {
        App = app;
        DataDir = dataDir;
        var identity = app.Services.GetRequiredService<NodeIdentity>();
        GrpcPort = identity.GrpcPort;
        AdvertisedHost = identity.AdvertisedHost;
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
        Client = new ControlPlaneClient(Channel);
    }

    public WebApplication App { get; }

    public int GrpcPort { get; }

    /// <summary>"127.0.0.1:port", as the ring names this node.</summary>
    public string AdvertisedHost { get; }

    public GrpcChannel Channel { get; }

    public ControlPlaneClient Client { get; }

    public string DataDir { get; }

    public ClusterView View => Get<ClusterView>();

    public bool IsJoined => Get<ClusterMembership>().IsJoined;

    public T Get<T>() where T : notnull => App.Services.GetRequiredService<T>();

    /// <summary>
    /// Starts a node: <c>--port 0 --http-port 0 --host 127.0.0.1 --store memory</c> and a private data
    /// directory, plus <paramref name="extraArgs"/>. <paramref name="customize"/> runs inside NodeHost.Build
    /// (register services); <paramref name="beforeStart"/> runs after it, before Kestrel starts (map services).
    /// </summary>
    public static BenchNode Start(
        string[]? extraArgs = null,
        Action<WebApplicationBuilder>? customize = null,
        Action<WebApplication>? beforeStart = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "cartactor-bench-node-" + Guid.NewGuid().ToString("N"));
        string[] args =
        [
            "--port", "0", "--http-port", "0", "--host", "127.0.0.1", "--store", "memory", "--data-dir", dataDir,
            "--Node:ShutdownTimeout", "00:00:05", "--Node:DrainDelay", "0s", .. extraArgs ?? [],
        ];
        var app = NodeHost.Build(args, builder =>
        {
            // Warnings and errors only: a line per request or per membership event would be measured too.
            builder.Configuration["Logging:LogLevel:Default"] = nameof(LogLevel.Warning);
            builder.Configuration["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = nameof(LogLevel.Warning);
            customize?.Invoke(builder);
        });

        try
        {
            beforeStart?.Invoke(app);
            app.StartAsync().WaitAsync(StartStopTimeout).GetAwaiter().GetResult();
        }
        catch
        {
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            DeleteDirectory(dataDir);
            throw;
        }

        return new BenchNode(app, dataDir);
    }

    /// <summary>Waits until every node's ring has exactly <paramref name="nodes"/>' members and every node has joined.</summary>
    public static void WaitForRing(IReadOnlyList<BenchNode> nodes, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!nodes.All(n => n.IsJoined && n.View.Ring.Members.Count == nodes.Count))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException(
                    $"the cluster did not converge within {within}: " +
                    string.Join(" | ", nodes.Select(n => $"{n.AdvertisedHost} joined={n.IsJoined} [{string.Join(",", n.View.Ring.Members)}]")));
            }

            Thread.Sleep(50);
        }
    }

    public void Dispose()
    {
        Channel.Dispose();
        try
        {
            App.StopAsync().WaitAsync(StartStopTimeout).GetAwaiter().GetResult();
        }
        finally
        {
            App.DisposeAsync().AsTask().WaitAsync(StartStopTimeout).GetAwaiter().GetResult();
            DeleteDirectory(DataDir);
        }
    }

    internal static void DeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a temp directory is the OS's to clean.
        }
    }
}

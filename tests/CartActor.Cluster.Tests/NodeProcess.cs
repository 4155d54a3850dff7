using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CartActor.Tests.Shared;
using Grpc.Net.Client;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;

namespace CartActor.Cluster.Tests;

/// <summary>
/// The node as a real child process (the built CartActor.Node.dll), so a test can SIGKILL it: no Closing,
/// no drain, no eviction callbacks, exactly what a crash looks like to its peers.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly GrpcChannel _channel;

    private NodeProcess(Process process, int grpcPort, int httpPort)
    {
        _process = process;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        Client = new ControlPlaneClient(_channel);
    }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public string AdvertisedHost => $"127.0.0.1:{GrpcPort}";

    public ControlPlaneClient Client { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<NodeProcess> StartAsync(params string[] extraArgs)
    {
        var grpcPort = FreePort();
        var httpPort = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(NodeDll());
        var dataDir = Path.Combine(Path.GetTempPath(), "cartactor-tests", Guid.NewGuid().ToString("n"));
        foreach (var arg in (string[])["--port", grpcPort.ToString(), "--http-port", httpPort.ToString(), "--host", "127.0.0.1", "--data-dir", dataDir, .. extraArgs])
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var node = new NodeProcess(process, grpcPort, httpPort);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.TrueAsync(
            () =>
            {
                if (process.HasExited)
                {
                    Assert.Fail($"node exited with {process.ExitCode}: {node.Output}");
                }

                try
                {
                    return http.GetAsync($"http://127.0.0.1:{httpPort}/readyz").Result.IsSuccessStatusCode;
                }
                catch (Exception)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            () => node.Output);
        return node;
    }

    /// <summary>SIGKILL: the process gets no chance to say goodbye.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WithTimeout();
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The node built by the same configuration as these tests (the test project references it).</summary>
    private static string NodeDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CartActor.Fast.sln")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            throw new InvalidOperationException("CartActor.Fast.sln not found above " + AppContext.BaseDirectory);
        }

        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(dir.FullName, "src", "CartActor.Node", "bin", configuration, "net10.0", "CartActor.Node.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("build the node first", dll);
    }
}

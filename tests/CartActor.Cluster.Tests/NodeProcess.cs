using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CartActor.Tests.Shared;
using Grpc.Net.Client;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;

namespace CartActor.Cluster.Tests;

/// <summary>
/// The node as a real child process (the built CartActor.Node.dll), so a test can do to it what an operator
/// or a kernel does: SIGKILL (a crash: no Closing, no drain), SIGSTOP/SIGCONT (a pause: a long GC, a frozen
/// VM), SIGTERM (a rolling deploy) and a restart on the same ports and data directory. Output of every run
/// is kept, so a failing test can show the node's own log lines.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };

    private readonly string[] _arguments;
    private readonly CapturedOutput _output = new(stamped: true);
    private Process _process;
    private GrpcChannel _channel;

    private NodeProcess(int grpcPort, int httpPort, string[] arguments)
    {
        GrpcPort = grpcPort;
        HttpPort = httpPort;
        _arguments = arguments;
        _process = Launch();
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        Client = new ControlPlaneClient(_channel);
    }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public string AdvertisedHost => $"127.0.0.1:{GrpcPort}";

    /// <summary>A client on a channel of this run of the process (a restart gets a fresh one: no reconnect backoff left over).</summary>
    public ControlPlaneClient Client { get; private set; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output => _output.ToString();

    /// <summary>Starts a node on fresh ports and waits until /readyz says ready.</summary>
    public static async Task<NodeProcess> StartAsync(params string[] extraArgs)
    {
        var node = Launch(FreePort(), FreePort(), extraArgs);
        await node.WaitReadyAsync(TimeSpan.FromSeconds(30));
        return node;
    }

    /// <summary>
    /// Starts a node on the given ports (0: a fresh one) without waiting for anything, so a test can watch it
    /// refuse to start or stay unready. The data directory is private unless the arguments name one.
    /// </summary>
    public static NodeProcess Launch(int grpcPort, int httpPort, params string[] extraArgs)
    {
        grpcPort = grpcPort == 0 ? FreePort() : grpcPort;
        httpPort = httpPort == 0 ? FreePort() : httpPort;
        var dataDir = Path.Combine(Path.GetTempPath(), "cartactor-tests", Guid.NewGuid().ToString("n"));
        string[] arguments =
        [
            "--port", grpcPort.ToString(CultureInfo.InvariantCulture),
            "--http-port", httpPort.ToString(CultureInfo.InvariantCulture),
            "--host", "127.0.0.1",
            "--data-dir", dataDir,
            .. extraArgs,
        ];
        return new NodeProcess(grpcPort, httpPort, arguments);
    }

    /// <summary>A loopback port free right now (see <see cref="LoopbackPorts.Free"/>).</summary>
    public static int FreePort() => LoopbackPorts.Free();

    /// <summary>The HTTP status of /readyz, or null when nothing answers (not started, stopped, paused past the timeout).</summary>
    public async Task<int?> ReadyzAsync()
    {
        try
        {
            using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort}/readyz"));
            return (int)response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Polls /readyz until it answers 200; fails with the node's output when the process exits or the time runs out.</summary>
    public async Task WaitReadyAsync(TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (await ReadyzAsync() != 200)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"node {AdvertisedHost} exited with {_process.ExitCode} before it was ready:\n{Output}");
            }

            if (clock.Elapsed > within)
            {
                Assert.Fail($"node {AdvertisedHost} was not ready within {within}:\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Waits for the process to exit on its own (a refused start-up) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan within)
    {
        await _process.WaitForExitAsync().WaitAsync(within);
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the process gets no chance to say goodbye.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WithTimeout();
    }

    /// <summary>SIGSTOP: the process freezes mid-instruction; its sockets stay open and unanswered.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT: a paused process resumes where it was, with a clock that jumped.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>SIGTERM (what Kubernetes sends a pod it removes), then waits for the node to drain and exit.</summary>
    public async Task<int> TerminateAsync(TimeSpan within)
    {
        await SignalAsync("TERM");
        return await WaitForExitAsync(within);
    }

    /// <summary>Starts the node again on the same ports, arguments and data directory, and waits until it is ready.</summary>
    public async Task RestartAsync(TimeSpan within)
    {
        if (!_process.HasExited)
        {
            throw new InvalidOperationException($"node {AdvertisedHost} is still running");
        }

        _process.Dispose();
        _channel.Dispose();
        _output.Append("== restarted");
        _process = Launch();
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
        Client = new ControlPlaneClient(_channel);
        await WaitReadyAsync(within);
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        if (!_process.HasExited)
        {
            // A paused process ignores nothing but SIGKILL, which is what this sends.
            await KillAsync();
        }

        _process.Dispose();
    }

    private async Task SignalAsync(string signal)
    {
        // kill(1) rather than P/Invoke: the same tool an operator uses, and no unsafe code in the tests.
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WithTimeout();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {_process.Id} failed with {kill.ExitCode}");
        }
    }

    private Process Launch() => CapturedProcess.Start("dotnet", [NodeBinary.DllPath(), .. _arguments], _output);
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CartActor.Tests.Shared;

namespace CartActor.Client.Tests;

/// <summary>
/// One real node as a child process (the built CartActor.Node.dll) on fixed loopback ports with its own
/// embedded, durable store, so a test can kill it, pause it (SIGSTOP) and start it again on the same port and
/// data directory, as a storefront sees a rolling restart or a crash.
/// </summary>
internal sealed class NodeUnderTest : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };

    private readonly CapturedOutput _output = new();
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "cartactor-client-tests", Guid.NewGuid().ToString("n"));
    private Process _process;

    private NodeUnderTest()
    {
        GrpcPort = LoopbackPorts.Free();
        HttpPort = LoopbackPorts.Free();
        _process = Launch();
    }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public Uri Address => new($"http://127.0.0.1:{GrpcPort}");

    public string Output => _output.ToString();

    public static async Task<NodeUnderTest> StartAsync()
    {
        var node = new NodeUnderTest();
        await node.WaitReadyAsync();
        return node;
    }

    /// <summary>SIGKILL: a crash; what it acknowledged is on its disk.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WithTimeout();
    }

    /// <summary>Starts the node again on the same ports and data directory (does not wait for it).</summary>
    public void Restart()
    {
        _process.Dispose();
        _process = Launch();
    }

    public async Task WaitReadyAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{HttpPort}/readyz"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            Assert.False(_process.HasExited, $"the node exited with {(_process.HasExited ? _process.ExitCode : 0)}:\n{Output}");
            Assert.True(clock.Elapsed < TestTimeouts.Default, $"the node was not ready within {TestTimeouts.Default}:\n{Output}");
            await Task.Delay(50);
        }
    }

    /// <summary>SIGSTOP / SIGCONT: the node's sockets stay open and unanswered, as in a long pause.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WithTimeout();
        Assert.Equal(0, kill.ExitCode);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the temp directory is the OS's to clean.
        }
    }

    private Process Launch() => CapturedProcess.Start(
        "dotnet",
        [
            NodeBinary.DllPath(),
            "--port", GrpcPort.ToString(CultureInfo.InvariantCulture),
            "--http-port", HttpPort.ToString(CultureInfo.InvariantCulture),
            "--host", "127.0.0.1",
            "--data-dir", _dataDir,
            "--Node:DrainDelay", "0s",
            "--Node:ShutdownTimeout", "5s",
        ],
        _output);
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CartActor.Tests.Shared.Redis;

/// <summary>
/// One redis-server child process on a loopback port, with its output captured. The fixtures build on it:
/// <see cref="RedisServerFixture"/> (one standalone server) and <see cref="RedisClusterFixture"/> (three
/// cluster masters). It only launches, waits for PONG and kills; what the server is for is the fixture's job.
/// </summary>
public sealed class RedisProcess : IDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(15);

    private readonly string[] _arguments;
    private readonly CapturedOutput _output = new();
    private Process? _process;

    /// <param name="port">The client port.</param>
    /// <param name="arguments">Everything after the port, bind and daemonize flags the process always gets.</param>
    public RedisProcess(int port, IEnumerable<string> arguments)
    {
        Port = port;
        _arguments = [.. arguments];
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public bool IsRunning => _process is { HasExited: false };

    public int? ProcessId => IsRunning ? _process!.Id : null;

    public string Output => _output.ToString();

    /// <summary>Launches the server and waits until it answers PING; false when it exited or never answered (it is killed then).</summary>
    public bool TryStart()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"redis-server is already running on {Endpoint}");
        }

        var process = CapturedProcess.Start(
            Executable("redis-server"),
            ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--daemonize", "no", "--protected-mode", "no", .. _arguments],
            _output);
        _process = process;

        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReadyTimeout && !process.HasExited)
        {
            // "-LOADING" while an append-only file is replayed: not ready yet.
            if (RespCommand.TrySend(Port, ["PING"], TimeSpan.FromSeconds(1)) == "+PONG")
            {
                return true;
            }

            // Poll interval that also wakes at once if the server exits (port taken, bad flag).
            process.WaitForExit(20);
        }

        Kill();
        return false;
    }

    /// <summary>SIGKILLs the server (a crash, not a shutdown) and waits until it is gone.</summary>
    public void Kill()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        finally
        {
            process.Dispose();
        }
    }

    public void Dispose() => Kill();

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The full path of a Redis program; a missing one fails with the install command, never a silent skip.</summary>
    public static string Executable(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"{name} is not on PATH. The Redis tests need a real server: install it (Debian/Ubuntu: apt-get install -y " +
            "redis-server, which brings redis-cli); the tests start and stop their own instances on loopback ports.");
    }

}

/// <summary>
/// One RESP command over a fresh socket, outside any client library: readiness probes, CLUSTER INFO and
/// CLIENT PAUSE must not share (or wait behind) the connection of a store under test.
/// </summary>
public static class RespCommand
{
    /// <summary>The reply's text (simple string or error with its prefix, bulk string's payload), or null when the server did not answer.</summary>
    public static string? TrySend(int port, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var request = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{arguments.Count}\r\n");
        foreach (var argument in arguments)
        {
            request.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(argument)}\r\n{argument}\r\n");
        }

        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            socket.SendTimeout = (int)timeout.TotalMilliseconds;
            socket.Connect(IPAddress.Loopback, port);
            socket.Send(Encoding.UTF8.GetBytes(request.ToString()));
            return ReadReply(socket);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public static string Send(int port, params string[] arguments) =>
        TrySend(port, arguments, TimeSpan.FromSeconds(5)) ?? throw new InvalidOperationException($"redis on port {port} did not answer {string.Join(' ', arguments)}");

    /// <summary><c>CLIENT PAUSE ms ALL</c>: every client's commands (this one's too) wait until the pause ends.</summary>
    public static void Pause(int port, TimeSpan duration)
    {
        var reply = Send(port, "CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), "ALL");
        if (reply != "+OK")
        {
            throw new InvalidOperationException($"CLIENT PAUSE on port {port} answered {reply}");
        }
    }

    private static string? ReadReply(Socket socket)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (true)
        {
            var read = socket.Receive(buffer);
            if (read == 0)
            {
                return null;
            }

            received.AddRange(buffer.AsSpan(0, read));
            var text = Encoding.UTF8.GetString([.. received]);
            var firstLineEnd = text.IndexOf("\r\n", StringComparison.Ordinal);
            if (firstLineEnd < 0)
            {
                continue;
            }

            if (text[0] != '$')
            {
                return text[..firstLineEnd];
            }

            var length = int.Parse(text.AsSpan(1, firstLineEnd - 1), CultureInfo.InvariantCulture);
            if (length < 0)
            {
                return "";
            }

            var payloadStart = firstLineEnd + 2;
            if (received.Count >= payloadStart + length)
            {
                return Encoding.UTF8.GetString([.. received], payloadStart, length);
            }
        }
    }
}

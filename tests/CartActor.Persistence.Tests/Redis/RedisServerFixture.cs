using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CartActor.Persistence.Redis;
using StackExchange.Redis;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>
/// A real redis-server child process on a free loopback port, owned by one test class: started here, killed
/// on dispose. CI only installs the package (Debian's redis-server); a missing binary fails every test of
/// the class with a clear message, never a silent skip. <see cref="Kill"/> and <see cref="Start"/> let a test
/// take Redis away and bring it back on the same port.
/// </summary>
public class RedisServerFixture : IDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(15);

    private readonly string _executable;
    private readonly StringBuilder _output = new();
    private readonly string? _dataDirectory;
    private Process? _process;
    private ConnectionMultiplexer? _admin;

    public RedisServerFixture()
        : this(durable: false)
    {
    }

    /// <param name="durable">
    /// Append-only file synced on every write, in a private directory, so a SIGKILLed server restarts with
    /// every write it acknowledged (what a production Redis for this store is configured to do).
    /// </param>
    protected RedisServerFixture(bool durable)
    {
        _executable = FindOnPath("redis-server") ?? throw new InvalidOperationException(
            "redis-server is not on PATH. The Redis store tests need a real server: install it (Debian/Ubuntu: " +
            "apt-get install -y redis-server); the tests start and stop their own instance on a loopback port.");
        if (durable)
        {
            _dataDirectory = Directory.CreateTempSubdirectory("cartactor-redis-").FullName;
        }

        Port = FreeLoopbackPort();
        Start();
    }

    public int Port { get; private set; }

    /// <summary>The URI form the node's <c>--store redis://host:port</c> takes.</summary>
    public string ConnectionString => $"redis://127.0.0.1:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>A raw client for arranging and inspecting keys behind the store's back.</summary>
    public IDatabase Admin
    {
        get
        {
            _admin ??= ConnectionMultiplexer.Connect(new ConfigurationOptions
            {
                EndPoints = { { IPAddress.Loopback, Port } },
                AbortOnConnectFail = false,
                ConnectTimeout = 2000,
                SyncTimeout = 5000,
                AllowAdmin = true,
            });
            return _admin.GetDatabase();
        }
    }

    /// <summary>A store on this server whose keys no other test touches.</summary>
    public RedisCartStore CreateStore(string? keyPrefix = null, string? connectionString = null) =>
        RedisCartStore.Connect(new RedisStoreOptions
        {
            ConnectionString = connectionString ?? ConnectionString,
            KeyPrefix = keyPrefix ?? UniquePrefix(),
        });

    public static string UniquePrefix() => $"test-{Guid.NewGuid():N}:";

    /// <summary>Starts redis-server on <see cref="Port"/> and waits until it answers PING.</summary>
    public void Start()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("redis-server is already running");
        }

        for (var attempt = 1; ; attempt++)
        {
            _process = Launch();
            if (WaitUntilReady(_process))
            {
                return;
            }

            Stop(_process);
            _process = null;
            if (attempt == 3 || _dataDirectory is not null)
            {
                throw new InvalidOperationException($"redis-server did not start on 127.0.0.1:{Port}:\n{Output}");
            }

            // Another process took the port between probing and binding: try a fresh one.
            Port = FreeLoopbackPort();
        }
    }

    /// <summary>SIGKILLs the server (a crash, not a shutdown) and waits until it is gone.</summary>
    public void Kill()
    {
        if (_process is { } process)
        {
            Stop(process);
            _process = null;
        }
    }

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

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        _admin?.Dispose();
        Kill();
        if (_dataDirectory is not null)
        {
            try
            {
                Directory.Delete(_dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp directory is harmless.
            }
        }
    }

    private Process Launch()
    {
        var start = new ProcessStartInfo(_executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] arguments =
        [
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "no",
        ];
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (_dataDirectory is null)
        {
            start.ArgumentList.Add("--appendonly");
            start.ArgumentList.Add("no");
        }
        else
        {
            foreach (var argument in (string[])["--appendonly", "yes", "--appendfsync", "always", "--dir", _dataDirectory])
            {
                start.ArgumentList.Add(argument);
            }
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private bool WaitUntilReady(Process process)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < ReadyTimeout)
        {
            if (process.HasExited)
            {
                return false;
            }

            if (AnswersPing())
            {
                return true;
            }

            // Poll interval that also wakes at once if the server exits (port taken, bad flag).
            process.WaitForExit(20);
        }

        return false;
    }

    private bool AnswersPing()
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.ReceiveTimeout = 1000;
            socket.Connect(IPAddress.Loopback, Port);
            socket.Send("PING\r\n"u8);
            var reply = new byte[64];
            var read = socket.Receive(reply);

            // "-LOADING" while an append-only file is replayed: not ready yet.
            return read >= 5 && reply.AsSpan(0, 5).SequenceEqual("+PONG"u8);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static void Stop(Process process)
    {
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

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? FindOnPath(string name)
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

        return null;
    }
}

/// <summary>A redis-server that keeps every acknowledged write across a SIGKILL (append-only, fsync always).</summary>
public sealed class DurableRedisServerFixture : RedisServerFixture
{
    public DurableRedisServerFixture()
        : base(durable: true)
    {
    }
}

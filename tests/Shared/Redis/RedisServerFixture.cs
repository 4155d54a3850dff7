using System.Globalization;
using System.Net;
using CartActor.Persistence.Redis;
using StackExchange.Redis;

namespace CartActor.Tests.Shared.Redis;

/// <summary>
/// A real standalone redis-server child process on a free loopback port, owned by one test class: started
/// here, killed on dispose. CI only installs the package (Debian's redis-server); a missing binary fails every
/// test of the class with a clear message, never a silent skip. <see cref="Kill"/> and <see cref="Start"/>
/// let a test take Redis away and bring it back on the same port.
/// </summary>
public class RedisServerFixture : IRedisTopology
{
    private readonly string? _dataDirectory;
    private RedisProcess _server;
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
        _ = RedisProcess.Executable("redis-server");
        if (durable)
        {
            _dataDirectory = Directory.CreateTempSubdirectory("cartactor-redis-").FullName;
        }

        _server = NewProcess(RedisProcess.FreeLoopbackPort());
        Start();
    }

    public string Topology => "standalone";

    public int Port => _server.Port;

    public string ConnectionString => $"redis://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public string Endpoints => _server.Endpoint;

    public bool IsRunning => _server.IsRunning;

    public string Output => _server.Output;

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

    public RedisCartStore CreateStore(string? keyPrefix = null, string? connectionString = null) =>
        RedisCartStore.Connect(new RedisStoreOptions
        {
            ConnectionString = connectionString ?? ConnectionString,
            KeyPrefix = keyPrefix ?? UniquePrefix(),
        });

    public static string UniquePrefix() => $"test-{Guid.NewGuid():N}:";

    public void Pause(TimeSpan duration) => RespCommand.Pause(Port, duration);

    /// <summary>Starts redis-server on <see cref="Port"/> and waits until it answers PING.</summary>
    public void Start()
    {
        for (var attempt = 1; ; attempt++)
        {
            if (_server.TryStart())
            {
                return;
            }

            if (attempt == 3 || _dataDirectory is not null)
            {
                throw new InvalidOperationException($"redis-server did not start on {_server.Endpoint}:\n{_server.Output}");
            }

            // Another process took the port between probing and binding: try a fresh one.
            _server = NewProcess(RedisProcess.FreeLoopbackPort());
        }
    }

    /// <summary>SIGKILLs the server (a crash, not a shutdown) and waits until it is gone.</summary>
    public void Kill() => _server.Kill();

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
        _server.Dispose();
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

    private RedisProcess NewProcess(int port) => new(
        port,
        _dataDirectory is null
            ? ["--save", "", "--appendonly", "no"]
            : ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", _dataDirectory]);
}

/// <summary>A redis-server that keeps every acknowledged write across a SIGKILL (append-only, fsync always).</summary>
public sealed class DurableRedisServerFixture : RedisServerFixture
{
    public DurableRedisServerFixture()
        : base(durable: true)
    {
    }
}

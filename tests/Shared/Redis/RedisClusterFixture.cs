using System.Diagnostics;
using System.Globalization;
using CartActor.Persistence.Redis;
using StackExchange.Redis;

namespace CartActor.Tests.Shared.Redis;

/// <summary>
/// A real Redis Cluster of three masters (no replicas) on free loopback ports, each in its own temp directory
/// (the cluster writes its nodes.conf there), created with <c>redis-cli --cluster create</c> and ready once
/// every master reports <c>cluster_state:ok</c>. Nothing is persisted: the fixture is thrown away with the
/// test class. Each master's cluster bus gets its own free port (<c>--cluster-port</c>), so no client port
/// has to leave room for the default port + 10000.
/// </summary>
public sealed class RedisClusterFixture : IRedisTopology
{
    private const int Masters = 3;
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(60);

    private readonly string _directory;
    private readonly List<RedisProcess> _masters = [];
    private ConnectionMultiplexer? _admin;

    public RedisClusterFixture()
    {
        _directory = Directory.CreateTempSubdirectory("cartactor-redis-cluster-").FullName;
        try
        {
            for (var i = 0; i < Masters; i++)
            {
                _masters.Add(StartMaster(i));
            }

            CreateCluster();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Topology => "cluster";

    public IReadOnlyList<int> Ports => [.. _masters.Select(m => m.Port)];

    public string ConnectionString => $"redis://{_masters[0].Endpoint}";

    public string Endpoints => string.Join(',', _masters.Select(m => m.Endpoint));

    public string Output => string.Join("\n", _masters.Select(m => $"== {m.Endpoint}\n{m.Output}"));

    public IDatabase Admin
    {
        get
        {
            _admin ??= ConnectionMultiplexer.Connect($"{Endpoints},abortConnect=false,connectTimeout=2000,syncTimeout=5000,allowAdmin=true");
            return _admin.GetDatabase();
        }
    }

    public RedisCartStore CreateStore(string? keyPrefix = null, string? connectionString = null) =>
        RedisCartStore.Connect(new RedisStoreOptions
        {
            ConnectionString = connectionString ?? ConnectionString,
            KeyPrefix = keyPrefix ?? RedisServerFixture.UniquePrefix(),
        });

    public void Pause(TimeSpan duration)
    {
        foreach (var master in _masters)
        {
            RespCommand.Pause(master.Port, duration);
        }
    }

    public void Dispose()
    {
        _admin?.Dispose();
        foreach (var master in _masters)
        {
            master.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }

    private RedisProcess StartMaster(int index)
    {
        for (var attempt = 1; ; attempt++)
        {
            var directory = Directory.CreateDirectory(Path.Combine(_directory, $"m{index}-{attempt}")).FullName;
            var master = new RedisProcess(RedisProcess.FreeLoopbackPort(),
            [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-port", RedisProcess.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture),
                "--cluster-node-timeout", "5000",
                "--save", "",
                "--appendonly", "no",
                "--dir", directory,
            ]);
            if (master.TryStart())
            {
                return master;
            }

            // Another process took a port between probing and binding: try fresh ones.
            if (attempt == 3)
            {
                throw new InvalidOperationException($"redis-server (cluster mode) did not start on {master.Endpoint}:\n{master.Output}");
            }
        }
    }

    private void CreateCluster()
    {
        var start = new ProcessStartInfo(RedisProcess.Executable("redis-cli"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--cluster", "create", .. _masters.Select(m => m.Endpoint), "--cluster-replicas", "0", "--cluster-yes"])
        {
            start.ArgumentList.Add(argument);
        }

        using var create = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start");
        var output = create.StandardOutput.ReadToEndAsync();
        var errors = create.StandardError.ReadToEndAsync();
        if (!create.WaitForExit(CreateTimeout))
        {
            create.Kill();
            throw new InvalidOperationException($"redis-cli --cluster create did not finish within {CreateTimeout}");
        }

        if (create.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli --cluster create failed ({create.ExitCode}):\n{output.Result}\n{errors.Result}\n{Output}");
        }

        // redis-cli returns once the masters agree on the slots; each must also say the whole cluster is usable.
        var clock = Stopwatch.StartNew();
        while (!_masters.All(m => (RespCommand.TrySend(m.Port, ["CLUSTER", "INFO"], TimeSpan.FromSeconds(1)) ?? "").Contains("cluster_state:ok", StringComparison.Ordinal)))
        {
            if (clock.Elapsed > CreateTimeout)
            {
                throw new InvalidOperationException($"the Redis Cluster never reported cluster_state:ok:\n{output.Result}\n{Output}");
            }

            Thread.Sleep(50);
        }
    }
}

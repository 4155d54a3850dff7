using System.Net;
using CartActor.Node.Dashboard;
using CartActor.Node.Diagnostics;
using CartActor.Node.Forwarding;
using CartActor.Node.Membership;
using CartActor.Node.Services;
using CartActor.Node.Services.Binding;
using CartActor.Node.Services.Minimal;
using CartActor.Node.Services.Storefront;
using Grpc.HealthCheck;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace CartActor.Node.Hosting;

/// <summary>
/// All service registration and the request pipeline, in one place. Program.cs and the tests both build
/// the node through <see cref="Build"/>, so the tested node is the deployed node.
/// </summary>
public static class NodeHost
{
    /// <summary>Builds a node from command-line args plus the standard configuration sources.</summary>
    /// <exception cref="NodeCommandLineException">An unknown option or a flag without its value; the message names it.</exception>
    /// <exception cref="NodeConfigurationException">A setting is invalid; the message names it.</exception>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        NodeCommandLine.Check(args);
        // Options are validated once at start and never reloaded, so the configuration files need no watcher.
        // The default watcher covers the content root recursively, which under `dotnet run` holds ./data: every
        // RocksDB WAL write woke it (about 7 % of the node's CPU in a write-through profile, docs/BENCHMARKS.md).
        // The host reads this key from host configuration, so it must be set before the builder exists.
        Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Configuration.AddCommandLine(args, NodeCommandLine.SwitchMappings.ToDictionary());
        // Start-up failures (a port in use) reach Program.cs, which prints one line; the host's own multi-line
        // "Hosting failed to start" error would only repeat it with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        // The slim builder forces the simple console formatter with a configure action that runs after the
        // Logging:Console binding, so Logging:Console:FormatterName had no effect. Register every formatter
        // (json, systemd, simple) and apply the configured name last.
        builder.Logging.AddConsole();
        builder.Services.PostConfigure<ConsoleLoggerOptions>(console =>
        {
            if (builder.Configuration["Logging:Console:FormatterName"] is { Length: > 0 } formatter)
            {
                console.FormatterName = formatter;
            }
        });
        // Embedded defaults, whatever directory the node starts in: no per-request lines from ASP.NET or gRPC.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Hosting's diagnostics logs only per-request lines (Information and Debug), but while its category is
        // enabled at any level ASP.NET builds a request Activity for every call, traced or not. Our own spans
        // (NodeTracing) read the traceparent header themselves, so nothing needs that Activity.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        customize?.Invoke(builder);

        // Every value of the option sections, from every source, is type-checked here (naming the setting and its
        // flag); durations written "30m" are handed to the binder in its own form.
        builder.Configuration.AddInMemoryCollection(NodeSettings.CheckAndNormalize(builder.Configuration));

        var nodeOptions = ReadNodeOptions(builder.Configuration);
        var cartOptions = ReadCartOptions(builder.Configuration);
        var clusterOptions = ReadClusterOptions(builder.Configuration);
        var redisOptions = ReadRedisOptions(builder.Configuration);
        var credentials = PeerCredentials.From(clusterOptions.Key, clusterOptions.KeyFile);
        var tls = NodeTls.From(nodeOptions);
        builder.Services.AddSingleton<IOptions<NodeOptions>>(Options.Create(nodeOptions));
        builder.Services.AddSingleton<IOptions<ClusterOptions>>(Options.Create(clusterOptions));
        builder.Services.AddSingleton(cartOptions);

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = nodeOptions.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, nodeOptions, tls));

        // TryAdd: a test may put its own clock in place (customize runs first).
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddMetrics();
        var store = StoreFactory.Open(nodeOptions, redisOptions);
        // TryAdd: a store registered by the customize hook (a test's failing store) takes the configured one's place.
        builder.Services.TryAddSingleton(_ => new StoreHolder(store));
        // Timed duties of the one heartbeat (ClusterMembership's loop): no loops or timers of their own.
        builder.Services.AddSingleton<IHeartbeatDuty, RetentionSweeper>();
        builder.Services.AddSingleton<IHeartbeatDuty>(sp => new IdleSweepDuty(sp.GetRequiredService<CartRuntime>()));
        builder.Services.AddSingleton<IHeartbeatDuty>(sp => sp.GetRequiredService<NodeReadiness>());
        builder.Services.AddSingleton<TlsHandshakeWatch>();
        builder.Services.AddSingleton<ReplyBudget>();
        builder.Services.AddSingleton<ReplyBudgetFlush>();
        builder.Services.AddSingleton<IHeartbeatDuty>(sp => sp.GetRequiredService<TlsHandshakeWatch>());
        builder.Services.AddSingleton(sp => new CartRuntime(
            sp.GetRequiredService<CartRuntimeOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            // Every registered observer (the change feed; a test's own) sees each activation and eviction.
            observer: new CompositeLifecycleObserver(sp.GetServices<ICartLifecycleObserver>().ToArray()),
            registry: null,
            meterFactory: sp.GetRequiredService<IMeterFactory>(),
            store: sp.GetRequiredService<StoreHolder>().Store,
            changes: sp.GetRequiredService<CartActor.Grains.CartChangeFeed>(),
            ownSweepTimer: false));
        builder.Services.AddSingleton(_ => new CartActor.Grains.CartChangeFeed(nodeOptions.MaxWatchersPerCart, nodeOptions.MaxWatchersPerNode));
        // Evictions wake a cart's watchers, so a stream sees at once that its cart left this node.
        builder.Services.AddSingleton<ICartLifecycleObserver>(sp => sp.GetRequiredService<CartActor.Grains.CartChangeFeed>());
        builder.Services.AddSingleton<NodeIdentity>();
        builder.Services.AddSingleton<NodeMetrics>();
        builder.Services.AddSingleton<FailedRequestLog>();
        builder.Services.AddHostedService<ClusterMetrics>();
        builder.Services.AddSingleton<HealthServiceImpl>();
        builder.Services.AddSingleton<NodeReadiness>();
        var dashboard = builder.Configuration.GetSection(DashboardOptions.Section).Get<DashboardOptions>() ?? new DashboardOptions();
        if (dashboard.Enabled)
        {
            builder.Services.AddSingleton<DashboardEndpoints>();
        }
        builder.Services.AddHostedService<NodeLifetime>();

        // The cluster: view (ring), peer channels, membership heartbeat.
        builder.Services.AddSingleton<ClusterView>();
        builder.Services.AddSingleton(credentials);
        builder.Services.AddSingleton(new NodeTlsHolder(tls));
        builder.Services.AddSingleton(sp => new PeerClients(credentials, sp.GetRequiredService<NodeIdentity>(), tls));
        builder.Services.AddHostedService<ControlPlaneSecurityNotice>();
        builder.Services.AddSingleton<ClusterMembership>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ClusterMembership>());

        // Both are stateless: one instance serves every call. Unregistered, gRPC would activate each per call
        // (an allocation and a dozen service resolutions on every Apply and Get).
        builder.Services.AddSingleton<ControlPlaneService>();
        builder.Services.AddSingleton<MinimalControlPlaneEndpoint>();
        builder.Services.AddSingleton<PeerAuthorization>();
        builder.Services.AddSingleton<StatusInterceptor>();
        builder.Services.AddSingleton<PeerAuthInterceptor>();
        builder.Services.AddSingleton<CartApiService>();
        builder.Services.AddSingleton<MergeCoordinator>();
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = nodeOptions.MaxMessageSize;
            grpc.EnableDetailedErrors = false;
            grpc.Interceptors.Add<StatusInterceptor>();
            // Inside the status interceptor, so refusals are counted like every other status.
            grpc.Interceptors.Add<PeerAuthInterceptor>();
            // Inside the status interceptor too: a reply over the budget is counted as RESOURCE_EXHAUSTED.
            grpc.Interceptors.Add<ReplyBudgetInterceptor>();
        }).AddJsonTranscoding();
        StorefrontHosting.AddServices(builder.Services, nodeOptions);
        // A request that does not parse is INVALID_ARGUMENT naming its type, for every service mapped below.
        builder.Services.UseStrictRequestParsing();
        builder.Services.AddGrpcReflection();

        // /metrics: OpenTelemetry's Prometheus exporter over the node's System.Diagnostics.Metrics instruments.
        // Chosen over prometheus-net's meter adapter, which exported counters as gauges without "_total" and lost
        // what was counted before the first scrape: the SDK aggregates cumulatively from the moment the host
        // starts, exports counters as counters with "_total", adds the unit to histogram names and keeps each
        // instrument's advised buckets. Only this node's meters are exported (a view drops instruments of other
        // meter factories, so two nodes in one process report their own figures), and ASP.NET's per-request
        // meters are not listened to at all (they would add work to every call).
        IServiceProvider? nodeServices = null;
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(CartActor.Diagnostics.CartMetrics.MeterName, NodeMetrics.MeterName)
            .AddView(instrument => nodeServices is not null && ReferenceEquals(instrument.Meter.Scope, nodeServices.GetService<IMeterFactory>())
                ? null
                : MetricStreamConfiguration.Drop)
            .AddPrometheusExporter(prometheus =>
            {
                // Every scrape sees the figures of that moment; no series carry the SDK's scope or target labels.
                prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
                prometheus.ScopeInfoEnabled = false;
                prometheus.TargetInfoEnabled = false;
            }));

        TracingHosting.AddTracing(builder, nodeOptions);

        var app = builder.Build();
        nodeServices = app.Services;
        if (nodeOptions.MinimalEndpoint)
        {
            // Ahead of routing: Apply and Get skip endpoint matching too; every other request goes on unchanged.
            // Resolved at the first request, not here: its services (the runtime, the metrics) must be created after
            // the metrics exporter has started, or the zeros they record at creation are lost.
            MinimalControlPlaneEndpoint? minimal = null;
            var services = app.Services;
            app.Use(next => context => (minimal ??= services.GetRequiredService<MinimalControlPlaneEndpoint>()).InvokeAsync(context, next));
        }

        // Grpc.AspNetCore's large replies are flushed under the stall deadline (ReplyBudget); calls the minimal
        // endpoint served never come here.
        var replyFlush = app.Services.GetRequiredService<ReplyBudgetFlush>();
        app.Use(next => context => replyFlush.InvokeAsync(context, next));
        app.UseRouting();
        StorefrontHosting.UsePipeline(app, nodeOptions);
        app.MapGrpcService<ControlPlaneService>();
        app.MapGrpcService<HealthServiceImpl>();
        app.MapGrpcReflectionService();
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", (NodeReadiness readiness) =>
            readiness.IsReady ? Results.Text("ready") : Results.Text(readiness.Detail, statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapPrometheusScrapingEndpoint("/metrics");
        if (dashboard.Enabled)
        {
            DashboardEndpoints.Map(app);
        }
        return app;
    }

    private static NodeOptions ReadNodeOptions(IConfiguration configuration)
    {
        var section = configuration.GetSection(NodeOptions.Section);
        NodeOptions options;
        try
        {
            options = section.Get<NodeOptions>(o => o.ErrorOnUnknownConfiguration = false) ?? new NodeOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new NodeConfigurationException(ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}");
        }

        // Seeds come as one comma-separated value (--seeds a:1,b:2) or as an indexed list (appsettings.json).
        var seeds = section.GetSection("Seeds");
        options.Seeds = NodeCommandLine.SplitSeeds(
            (seeds.Value is { } flat ? [flat] : Array.Empty<string>()).Concat(seeds.GetChildren().Select(c => c.Value ?? string.Empty)));
        var origins = section.GetSection("CorsOrigins");
        options.CorsOrigins = (origins.Value is { } oneLine ? [oneLine] : Array.Empty<string>())
            .Concat(origins.GetChildren().Select(c => c.Value ?? string.Empty))
            .SelectMany(o => o.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal)
            .ToArray();

        var result = new NodeOptionsValidator().Validate(null, options);
        if (result.Failed)
        {
            throw new NodeConfigurationException(string.Join("; ", result.Failures));
        }

        // Resolved once against the working directory, so the start-up line and the store agree on one absolute path.
        options.DataDir = Path.GetFullPath(options.DataDir);

        return options;
    }

    private static ClusterOptions ReadClusterOptions(IConfiguration configuration)
    {
        ClusterOptions options;
        try
        {
            options = configuration.GetSection(ClusterOptions.Section).Get<ClusterOptions>() ?? new ClusterOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new NodeConfigurationException(ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}");
        }

        return options.Validate() is { } problem ? throw new NodeConfigurationException(problem) : options;
    }

    private static RedisOptions ReadRedisOptions(IConfiguration configuration)
    {
        RedisOptions options;
        try
        {
            options = configuration.GetSection(RedisOptions.Section).Get<RedisOptions>() ?? new RedisOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new NodeConfigurationException(ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}");
        }

        return options.Validate() is { } problem ? throw new NodeConfigurationException(problem) : options;
    }

    private static CartRuntimeOptions ReadCartOptions(IConfiguration configuration)
    {
        CartRuntimeOptions options;
        try
        {
            options = configuration.GetSection("Cart").Get<CartRuntimeOptions>() ?? new CartRuntimeOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new NodeConfigurationException(ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}");
        }

        if (options.Validate() is { } problem)
        {
            throw new NodeConfigurationException("Cart:" + problem);
        }

        // The runtime's only caller here is the gRPC endpoint, asynchronous throughout: a pass's answers may run inline.
        options.InlinePassAnswers = true;
        return options;
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel, NodeOptions options, NodeTls? tls)
    {
        // Socket transport, HTTP/2 windows and data rates keep Kestrel's defaults on purpose: inline scheduling, inline
        // socket completions and IOQueueCount 0 each measured slower on one core (replies of concurrent streams no
        // longer leave in one send), the others no faster (docs/BENCHMARKS.md, "Transport and runtime settings").
        kestrel.AddServerHeader = false;
        kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxStreamsPerConnection;
        // The connection cap is ConnectionCap on each endpoint, not Kestrel's (which closes refused gRPC
        // connections before a client can see a status): beyond it new connections are refused, the open ones keep serving.
        var connectionCap = ConnectionLimit.Effective(options.MaxConnections);
        if (!BindAddress.TryParse(options.Bind, out var bind))
        {
            throw new NodeConfigurationException($"Node:Bind (--bind) '{options.Bind}' is not an IP address, 'localhost' or '*'");
        }

        // TLS (when configured) on the gRPC port only; the HTTP port (health, metrics, JSON, dashboard) stays
        // plaintext HTTP/1.1 for probes and scrapers on the private network.
        Listen(kestrel, bind, options.Port, l =>
        {
            l.Protocols = HttpProtocols.Http2;
            if (tls is not null)
            {
                // Kestrel logs a failed handshake at Debug only: the watch counts them and warns (rate-limited).
                var watch = kestrel.ApplicationServices.GetRequiredService<TlsHandshakeWatch>();
                l.Use(watch.BeforeTls);
                l.UseHttps(https => tls.ConfigureServer(https, watch.CertificateRefused));
                l.Use(TlsHandshakeWatch.AfterTls);
            }

            l.Use(new ConnectionCap(connectionCap, answerGrpc: true).Wrap);
        });
        Listen(kestrel, bind, options.HttpPort, l =>
        {
            l.Protocols = HttpProtocols.Http1;
            l.Use(new ConnectionCap(connectionCap, answerGrpc: false).Wrap);
        });
    }

    private static void Listen(KestrelServerOptions kestrel, BindAddress bind, int port, Action<ListenOptions> configure)
    {
        if (bind.Any)
        {
            kestrel.ListenAnyIP(port, configure);
        }
        else if (bind.Localhost)
        {
            kestrel.Listen(IPAddress.Loopback, port, configure);
        }
        else
        {
            kestrel.Listen(bind.Address!, port, configure);
        }
    }
}

/// <summary>A setting that stops start-up; the message names the setting.</summary>
public sealed class NodeConfigurationException(string message) : Exception(message);

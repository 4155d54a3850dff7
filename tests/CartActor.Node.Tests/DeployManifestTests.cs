using CartActor.Node.Hosting;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace CartActor.Node.Tests;

/// <summary>
/// deploy/ cannot be built or applied here, so its files are checked against the node itself: every flag the
/// container passes is one the node accepts (the real command-line check), ports, probe paths and timings
/// agree with the node's settings and defaults, and the Services, budget and store point at what exists.
/// </summary>
public sealed class DeployManifestTests
{
    private static readonly List<YamlMappingNode> Manifests = LoadManifests();

    private static YamlMappingNode Deployment => Single("Deployment", "cartactor");

    private static YamlMappingNode Container => (YamlMappingNode)((YamlSequenceNode)At(Deployment, "spec.template.spec.containers")).Children.Single();

    /// <summary>The container's arguments as the node receives them (Kubernetes expands $(PEER_HOST) and what it refers to).</summary>
    private static string[] Args => ArgsWith(Resolve(RawEnv(Container)));

    private static IConfiguration Settings => SettingsFrom(Resolve(RawEnv(Container)));

    [Fact]
    public void EveryFlagAndValueTheContainerPassesIsOneTheNodeAccepts()
    {
        NodeCommandLine.Check(Args);
        NodeSettings.CheckAndNormalize(Settings);

        Assert.Equal("*", Settings["Node:Bind"]);
        Assert.StartsWith("redis://", Settings["Node:Store"], StringComparison.Ordinal);
        Assert.Contains(((YamlSequenceNode)At(Container, "env")).Children, e => Text(At(e, "name")) == "POD_IP" && Text(At(e, "valueFrom.fieldRef.fieldPath")) == "status.podIP");
    }

    [Fact]
    public void TheTlsOverlayServesTlsFromAMountedSecretAndAdvertisesANameOneCertificateCanHold()
    {
        var overlay = LoadYaml(RepositoryFiles.PathOf("deploy", "kubernetes", "tls", "kustomization.yaml")).Single();
        Assert.Equal("..", Text(((YamlSequenceNode)At(overlay, "resources")).Children.Single()));
        var patch = LoadYaml(RepositoryFiles.PathOf(["deploy", "kubernetes", "tls", .. Text(At(((YamlSequenceNode)At(overlay, "patches")).Children.Single(), "path")).Split('/')]));
        var deployment = patch.Single(m => Text(At(m, "kind")) == "Deployment" && Text(At(m, "metadata.name")) == "cartactor");
        var container = (YamlMappingNode)((YamlSequenceNode)At(deployment, "spec.template.spec.containers")).Children.Single();
        Assert.Equal(Text(At(Container, "name")), Text(At(container, "name")));

        // Strategic merge: env entries by name (in place, new ones appended), then Kubernetes' expansion.
        var env = RawEnv(Container);
        foreach (var (name, value) in RawEnv(container))
        {
            var at = env.FindIndex(e => e.Name == name);
            if (at >= 0) env[at] = (name, value); else env.Add((name, value));
        }

        var resolved = Resolve(env);
        var args = ArgsWith(resolved);
        NodeCommandLine.Check(args);
        var settings = SettingsFrom(resolved);
        NodeSettings.CheckAndNormalize(settings);

        // Every TLS file comes from the mounted Secret (mutual TLS: a client CA as well), and the cluster key stays.
        var mount = (YamlMappingNode)((YamlSequenceNode)At(container, "volumeMounts")).Children.Single();
        var volume = ((YamlSequenceNode)At(deployment, "spec.template.spec.volumes")).Children.Single(v => Text(At(v, "name")) == Text(At(mount, "name")));
        Assert.NotNull(TryAt(volume, "secret.secretName"));
        foreach (var file in new[] { "Node:TlsCert", "Node:TlsKey", "Node:TlsClientCa" })
        {
            Assert.StartsWith(Text(At(mount, "mountPath")) + "/", settings[file], StringComparison.Ordinal);
        }

        Assert.Equal(Settings["Cluster:KeyFile"], settings["Cluster:KeyFile"]);

        // Peers dial the pod's DNS name under the headless Service the seeds name: one wildcard certificate holds it.
        var peers = Text(At(Single("Service", "cartactor-peers"), "metadata.name"));
        Assert.Equal(peers, Text(At(deployment, "spec.template.spec.subdomain")));
        Assert.Equal($"{PodName}.{peers}.{PodNamespace}.svc", settings["Node:Host"]);
        Assert.Equal(PodIp, Settings["Node:Host"]);
        Assert.Null(Settings["Node:TlsCert"]);
    }

    [Fact]
    public void PeersProveThemselvesWithAKeyFileMountedFromASecret()
    {
        var keyFile = Settings["Cluster:KeyFile"];
        Assert.False(string.IsNullOrEmpty(keyFile), "a cluster without a key has an open control plane");
        var mount = ((YamlSequenceNode)At(Container, "volumeMounts")).Children.Single(m => keyFile.StartsWith(Text(At(m, "mountPath")) + "/", StringComparison.Ordinal));
        var volume = ((YamlSequenceNode)At(Deployment, "spec.template.spec.volumes")).Children.Single(v => Text(At(v, "name")) == Text(At(mount, "name")));
        Assert.NotNull(TryAt(volume, "secret.secretName"));
    }

    [Fact]
    public void ContainerPortsAndProbesMatchTheNodesPortsAndPaths()
    {
        var grpcPort = Port("Node:Port", new NodeOptions().Port);
        var httpPort = Port("Node:HttpPort", new NodeOptions().HttpPort);

        Assert.Equal(grpcPort, ContainerPort("grpc"));
        Assert.Equal(httpPort, ContainerPort("http"));
        Assert.Equal("/readyz", Text(At(Container, "readinessProbe.httpGet.path")));
        Assert.Equal(httpPort, ContainerPort(Text(At(Container, "readinessProbe.httpGet.port"))));
        Assert.Equal("/healthz", Text(At(Container, "livenessProbe.httpGet.path")));
        Assert.Equal(httpPort, ContainerPort(Text(At(Container, "livenessProbe.httpGet.port"))));
    }

    [Fact]
    public void TheGracePeriodCoversTheDrainDelayAndTheShutdownTimeout()
    {
        var defaults = new NodeOptions();
        var drainDelay = Duration("Node:DrainDelay", defaults.DrainDelay);
        var shutdown = Duration("Node:ShutdownTimeout", defaults.ShutdownTimeout);
        var preStopSleep = TryAt(Container, "lifecycle.preStop") is null ? TimeSpan.Zero : throw new InvalidOperationException("a preStop hook: add its length here");
        var grace = TimeSpan.FromSeconds(int.Parse(Text(At(Deployment, "spec.template.spec.terminationGracePeriodSeconds")), System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(drainDelay < shutdown, $"DrainDelay {drainDelay} must be below ShutdownTimeout {shutdown}");
        Assert.True(grace > preStopSleep + drainDelay + shutdown, $"terminationGracePeriodSeconds {grace} must exceed preStop + DrainDelay + ShutdownTimeout ({preStopSleep + drainDelay + shutdown})");
        Assert.Equal("0", Text(At(Deployment, "spec.strategy.rollingUpdate.maxUnavailable")));
    }

    [Fact]
    public void PeersAreFoundThroughAHeadlessServiceThatTheSeedsName()
    {
        var peers = Single("Service", "cartactor-peers");
        Assert.Equal("None", Text(At(peers, "spec.clusterIP")));
        Assert.Equal("true", Text(At(peers, "spec.publishNotReadyAddresses")));
        AssertSelects(At(peers, "spec.selector"));

        var seeds = NodeCommandLine.SplitSeeds([Settings["Node:Seeds"] ?? string.Empty]);
        var seed = Assert.Single(seeds);
        Assert.True(HostName.TryParse(seed, out var endpoint));
        Assert.Equal("cartactor-peers", endpoint.Host.Split('.')[0]);
        var port = ((YamlSequenceNode)At(peers, "spec.ports")).Children.Single();
        Assert.Equal(endpoint.Port, int.Parse(Text(At(port, "port")), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(endpoint.Port, ContainerPort(Text(At(port, "targetPort"))));
    }

    [Fact]
    public void TheClientServiceAndTheDisruptionBudgetSelectTheNodes()
    {
        var client = Single("Service", "cartactor");
        AssertSelects(At(client, "spec.selector"));
        foreach (var port in ((YamlSequenceNode)At(client, "spec.ports")).Children)
        {
            Assert.True(ContainerPort(Text(At(port, "targetPort"))) > 0);
        }

        var budget = Single("PodDisruptionBudget", "cartactor");
        AssertSelects(At(budget, "spec.selector.matchLabels"));
        Assert.NotNull(TryAt(budget, "spec.maxUnavailable") ?? TryAt(budget, "spec.minAvailable"));
    }

    [Fact]
    public void TheClusterStoreIsTheRedisServiceDeployedBesideIt()
    {
        var store = new Uri(Settings["Node:Store"]!);
        var redis = Single("Service", store.Host);
        Assert.Contains(((YamlSequenceNode)At(redis, "spec.ports")).Children, p => Text(At(p, "port")) == store.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.NotNull(Manifests.SingleOrDefault(m => Text(At(m, "kind")) == "StatefulSet" && Text(At(m, "metadata.name")) == store.Host));
    }

    [Fact]
    public void EveryContainerRequestsResources()
    {
        foreach (var container in Manifests.Where(m => TryAt(m, "spec.template.spec.containers") is not null)
                     .SelectMany(m => ((YamlSequenceNode)At(m, "spec.template.spec.containers")).Children))
        {
            Assert.NotNull(TryAt(container, "resources.requests.cpu"));
            Assert.NotNull(TryAt(container, "resources.requests.memory"));
        }
    }

    [Fact]
    public void TheImageIsMultiStageNonRootAndListensOnEveryInterfaceOnTheDefaultPorts()
    {
        var lines = File.ReadAllLines(RepositoryFiles.PathOf("deploy", "Dockerfile")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var defaults = new NodeOptions();

        Assert.True(lines.Count(l => l.StartsWith("FROM ", StringComparison.Ordinal)) >= 2, "multi-stage: a build stage and a runtime stage");
        var user = Assert.Single(lines, l => l.StartsWith("USER ", StringComparison.Ordinal))[5..].Trim();
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        Assert.Contains(lines, l => l.Contains("Node__Bind=\"*\"", StringComparison.Ordinal));
        var exposed = Assert.Single(lines, l => l.StartsWith("EXPOSE ", StringComparison.Ordinal))[7..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([defaults.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), defaults.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture)], exposed);
        Assert.Equal(user, Text(At(Deployment, "spec.template.spec.securityContext.runAsUser")));
    }

    [Fact]
    public void TheImageRestoresEveryProjectTheNodeIsBuiltFrom()
    {
        // The build stage restores from the project files alone (a layer that survives source edits), then publishes
        // with --no-restore: a project the node references but the stage does not copy first fails the image build.
        var lines = File.ReadAllLines(RepositoryFiles.PathOf("deploy", "Dockerfile")).Select(l => l.Trim()).ToList();
        var restore = lines.FindIndex(l => l.StartsWith("RUN dotnet restore ", StringComparison.Ordinal));
        Assert.True(restore > 0, "the build stage restores before it copies the sources");
        var copied = lines.Take(restore)
            .Where(l => l.StartsWith("COPY ", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])
            .ToHashSet(StringComparer.Ordinal);

        var projects = ProjectsBehind("src/CartActor.Node/CartActor.Node.csproj");

        Assert.Contains("src/CartActor.Contracts/CartActor.Contracts.csproj", projects);
        Assert.All(projects, project => Assert.Contains(project, copied));
    }

    /// <summary>The project and every project it references, directly or not, as paths from the repository root.</summary>
    private static SortedSet<string> ProjectsBehind(string project)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var next))
        {
            if (!found.Add(next))
            {
                continue;
            }

            var file = RepositoryFiles.PathOf(next.Split('/'));
            foreach (var reference in System.Xml.Linq.XDocument.Load(file).Descendants("ProjectReference"))
            {
                var full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, (string)reference.Attribute("Include")!));
                pending.Push(Path.GetRelativePath(RepositoryFiles.Root, full).Replace('\\', '/'));
            }
        }

        return found;
    }

    private static int Port(string key, int defaultValue) => Settings[key] is { } value ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : defaultValue;

    private static TimeSpan Duration(string key, TimeSpan defaultValue) =>
        Settings[key] is { } value ? (Durations.TryParse(value, out var d) ? d : throw new FormatException(value)) : defaultValue;

    private static int ContainerPort(string nameOrNumber) =>
        int.TryParse(nameOrNumber, out var number) ? number
        : int.Parse(Text(At(((YamlSequenceNode)At(Container, "ports")).Children.Single(p => Text(At(p, "name")) == nameOrNumber), "containerPort")), System.Globalization.CultureInfo.InvariantCulture);

    private static void AssertSelects(YamlNode selector)
    {
        var podLabels = (YamlMappingNode)At(Deployment, "spec.template.metadata.labels");
        foreach (var (key, value) in ((YamlMappingNode)selector).Children)
        {
            Assert.Equal(Text(value), Text(podLabels.Children[key]));
        }
    }

    private const string PodIp = "10.1.2.3", PodName = "cartactor-5d8f7-x2x9q", PodNamespace = "shop";

    /// <summary>A container's env in order, as written: a downward-API variable gets the value a pod would see.</summary>
    private static List<(string Name, string Value)> RawEnv(YamlMappingNode container) =>
        ((YamlSequenceNode)At(container, "env")).Children
            .Select(e => (Text(At(e, "name")), TryAt(e, "value") is { } value ? Text(value) : Text(At(e, "valueFrom.fieldRef.fieldPath")) switch
            {
                "status.podIP" => PodIp,
                "metadata.name" => PodName,
                "metadata.namespace" => PodNamespace,
                var other => throw new InvalidOperationException($"no sample value for {other}"),
            }))
            .ToList();

    /// <summary>Kubernetes' $(NAME) expansion of env values: each may refer to the variables defined before it.</summary>
    private static List<(string Name, string Value)> Resolve(List<(string Name, string Value)> env)
    {
        var resolved = new List<(string Name, string Value)>();
        foreach (var (name, value) in env)
        {
            resolved.Add((name, Expand(value, resolved)));
        }

        return resolved;
    }

    private static string Expand(string text, List<(string Name, string Value)> env) =>
        env.Aggregate(text, (expanded, e) => expanded.Replace($"$({e.Name})", e.Value, StringComparison.Ordinal));

    private static string[] ArgsWith(List<(string Name, string Value)> env)
    {
        var args = ((YamlSequenceNode)At(Container, "args")).Children.Select(a => Expand(Text(a), env)).ToArray();
        Assert.DoesNotContain(args, a => a.Contains("$(", StringComparison.Ordinal));
        return args;
    }

    /// <summary>What the node reads: the env variables that are settings (Node__TlsCert is Node:TlsCert), then the arguments over them.</summary>
    private static IConfiguration SettingsFrom(List<(string Name, string Value)> env) => new ConfigurationBuilder()
        .AddInMemoryCollection(env.Where(e => e.Name.Contains("__", StringComparison.Ordinal)).Select(e => KeyValuePair.Create(e.Name.Replace("__", ":", StringComparison.Ordinal), (string?)e.Value)))
        .AddCommandLine(ArgsWith(env), NodeCommandLine.SwitchMappings.ToDictionary())
        .Build();

    private static YamlMappingNode Single(string kind, string name) =>
        Manifests.Single(m => Text(At(m, "kind")) == kind && Text(At(m, "metadata.name")) == name);

    private static YamlNode At(YamlNode node, string path) =>
        TryAt(node, path) ?? throw new KeyNotFoundException($"{path} not found");

    private static YamlNode? TryAt(YamlNode node, string path)
    {
        foreach (var part in path.Split('.'))
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(part), out var next))
            {
                return null;
            }

            node = next;
        }

        return node;
    }

    private static string Text(YamlNode node) => ((YamlScalarNode)node).Value ?? string.Empty;

    private static List<YamlMappingNode> LoadManifests() =>
        [.. Directory.GetFiles(RepositoryFiles.PathOf("deploy", "kubernetes"), "*.yaml").SelectMany(file => LoadYaml(file))];

    private static List<YamlMappingNode> LoadYaml(string file)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(file);
        stream.Load(reader);
        return [.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()];
    }
}

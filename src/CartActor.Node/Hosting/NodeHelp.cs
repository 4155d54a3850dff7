using System.Reflection;

namespace CartActor.Node.Hosting;

/// <summary>What --help and --version print. Generated from <see cref="NodeCommandLine.SwitchMappings"/> and the option classes' defaults.</summary>
public static class NodeHelp
{
    /// <summary>"1.0.0" and the git commit the build was made from ("unknown" when it was built outside a git checkout).</summary>
    public static (string Version, string Commit) Version()
    {
        var informational = typeof(NodeHelp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? (informational, "unknown") : (informational[..plus], informational[(plus + 1)..]);
    }

    public static void WriteVersion(TextWriter output)
    {
        var (version, commit) = Version();
        output.WriteLine($"cartactor {version} (commit {commit})");
    }

    public static void WriteHelp(TextWriter output)
    {
        var (version, commit) = Version();
        output.WriteLine($"cartactor {version} (commit {commit}): a shopping-cart node serving gRPC, with /healthz, /readyz and /metrics over HTTP");
        output.WriteLine();
        output.WriteLine(NodeCommandLine.Usage);
        output.WriteLine("       cartactor --help | --version");
        output.WriteLine();
        output.WriteLine("Flags:");
        var flags = NodeCommandLine.SwitchMappings
            .Select(m => (Flag: $"{m.Key} <{Setting(m.Value)?.TypeName ?? "text"}>", Key: m.Value, Default: Setting(m.Value) is { } s ? NodeSettings.DescribeDefault(s) : "none"))
            .ToList();
        var flagWidth = flags.Max(f => f.Flag.Length) + 2;
        var keyWidth = flags.Max(f => f.Key.Length) + 2;
        foreach (var (flag, key, defaultValue) in flags)
        {
            output.WriteLine($"  {flag.PadRight(flagWidth)}{key.PadRight(keyWidth)}default {defaultValue}");
        }

        output.WriteLine();
        output.WriteLine("Every setting (--Section:Key value, environment Section__Key, or appsettings.json):");
        var settings = NodeSettings.All.Select(s => (Name: $"--{s.Key} <{s.TypeName}>", Default: NodeSettings.DescribeDefault(s))).ToList();
        var nameWidth = settings.Max(s => s.Name.Length) + 2;
        foreach (var (name, defaultValue) in settings)
        {
            output.WriteLine($"  {name.PadRight(nameWidth)}default {defaultValue}");
        }

        output.WriteLine();
        output.WriteLine("  --Logging:...  the standard .NET Logging section, e.g. --Logging:LogLevel:Default Warning,");
        output.WriteLine("                 --Logging:Console:FormatterName json (one JSON object per line)");
        output.WriteLine();
        output.WriteLine($"Durations: {Durations.Formats}.");
    }

    private static NodeSettings.Setting? Setting(string key) => NodeSettings.TryGet(key, out var setting) ? setting : null;
}

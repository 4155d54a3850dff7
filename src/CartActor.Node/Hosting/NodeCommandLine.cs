namespace CartActor.Node.Hosting;

/// <summary>
/// The command line: short flags for the common settings (this table is the one list: --help prints it and the
/// check accepts it), the full "--Section:Key value" form for every other setting, and the check that refuses
/// anything else before a node starts. The values themselves are parsed by the configuration binder after
/// <see cref="NodeSettings.CheckAndNormalize"/> has checked their types.
/// </summary>
/// <remarks>
/// Switch mappings plus a check rather than System.CommandLine: configuration stays the one source of every
/// setting (appsettings.json, Section__Key environment variables and --Section:Key keep working unchanged, and a
/// setting added to an option class is accepted everywhere at once), where System.CommandLine would need an
/// option declared per setting and a second binding path beside the configuration binder.
/// </remarks>
public static class NodeCommandLine
{
    public static readonly IReadOnlyDictionary<string, string> SwitchMappings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["--port"] = "Node:Port",
        ["--http-port"] = "Node:HttpPort",
        ["--bind"] = "Node:Bind",
        ["--host"] = "Node:Host",
        ["--seeds"] = "Node:Seeds",
        ["--data-dir"] = "Node:DataDir",
        ["--store"] = "Node:Store",
        ["--durability"] = "Node:Durability",
        ["--shards"] = "Cart:ShardCount",
        ["--idle-ttl"] = "Cart:IdleTtl",
        ["--max-carts"] = "Cart:MaxActiveCarts",
        ["--dashboard"] = "Dashboard:Enabled",
        ["--traces"] = "Node:Traces",
        ["--cluster-key"] = "Cluster:Key",
        ["--tls-cert"] = "Node:TlsCert",
        ["--tls-key"] = "Node:TlsKey",
        ["--tls-client-ca"] = "Node:TlsClientCa",
        ["--minimal-endpoint"] = "Node:MinimalEndpoint",
    };

    /// <summary>Switches that take no value and never start a node (Program.cs answers them).</summary>
    public static readonly string[] HelpSwitches = ["--help", "-h", "-?"];

    public const string VersionSwitch = "--version";

    public const string Usage = "usage: cartactor [--flag value]... [--Section:Key value]...   (cartactor --help lists every flag and setting)";

    public static bool AsksForHelp(string[] args) => args.Any(a => HelpSwitches.Contains(a, StringComparer.OrdinalIgnoreCase));

    public static bool AsksForVersion(string[] args) => args.Any(a => string.Equals(a, VersionSwitch, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Seeds arrive comma separated ("--seeds a:1337,b:1337") or as indexed keys from appsettings; both become one list.
    /// </summary>
    public static string[] SplitSeeds(IEnumerable<string> raw) =>
        raw.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
           .Distinct(StringComparer.Ordinal)
           .ToArray();

    /// <summary>The short flag of a setting, or null.</summary>
    public static string? FlagFor(string key) =>
        SwitchMappings.FirstOrDefault(m => string.Equals(m.Value, key, StringComparison.OrdinalIgnoreCase)).Key;

    /// <summary>
    /// Refuses what the configuration provider would silently ignore or misread: an unknown flag or setting (a typo
    /// of --seeds must not start a one-node "cluster"), a flag without its value, a stray word.
    /// </summary>
    /// <exception cref="NodeCommandLineException">The message names the option and, for a typo, the nearest known one.</exception>
    public static void Check(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (HelpSwitches.Contains(arg, StringComparer.OrdinalIgnoreCase) || string.Equals(arg, VersionSwitch, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new NodeCommandLineException(arg.StartsWith('-')
                    ? $"unknown option '{arg}'{Hint(arg)}"
                    : $"unexpected argument '{arg}' (options are --flag value or --Section:Key value)");
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            var key = SwitchMappings.TryGetValue(name, out var mapped) ? mapped : name[2..];
            if (!NodeSettings.IsKnown(key))
            {
                throw new NodeCommandLineException($"unknown option '{name}'{Hint(name)}");
            }

            if (equals < 0)
            {
                // The configuration provider would take the next flag as this one's value ("--port --bind *").
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new NodeCommandLineException($"option '{name}' needs a value");
                }

                i++;
            }
        }
    }

    /// <summary>The closest of <paramref name="candidates"/> to a mistyped name, or null when none is close.</summary>
    public static string? Nearest(string typed, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = Distance(typed.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return bestDistance <= Math.Max(2, typed.Length / 4) ? best : null;
    }

    private static string Hint(string typed)
    {
        var candidates = SwitchMappings.Keys.Concat(NodeSettings.All.Select(s => "--" + s.Key)).Append(VersionSwitch).Append("--help");
        return Nearest(typed, candidates) is { } near ? $" (did you mean {near}?)" : string.Empty;
    }

    /// <summary>Edit distance counting a swap of two neighbours as one edit ("--prot" is one from "--port").</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}

/// <summary>A command line that names an unknown option or lacks a value; Program.cs prints it with the usage line.</summary>
public sealed class NodeCommandLineException(string message) : Exception(message);

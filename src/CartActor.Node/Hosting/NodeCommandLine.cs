namespace CartActor.Node.Hosting;

/// <summary>Short flags for the common settings; everything else uses the full "--Section:Key value" form.</summary>
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
    };

    /// <summary>
    /// Seeds arrive comma separated ("--seeds a:1337,b:1337") or as indexed keys from appsettings; both become one list.
    /// </summary>
    public static string[] SplitSeeds(IEnumerable<string> raw) =>
        raw.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
           .Distinct(StringComparer.Ordinal)
           .ToArray();
}

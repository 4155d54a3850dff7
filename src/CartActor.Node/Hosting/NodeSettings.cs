using System.Collections;
using System.Globalization;
using System.Reflection;

namespace CartActor.Node.Hosting;

/// <summary>
/// Every setting the node reads, derived from its option classes (one section each) plus the targets of the
/// short flags, with its type and built-in default. The one table behind the command-line check, the typed
/// value check and --help: a property added to an option class is a known setting at once.
/// </summary>
internal static class NodeSettings
{
    /// <summary>Configuration sections bound to option classes. Unknown keys in these are refused from every source.</summary>
    private static readonly (string Section, Type Type)[] Sections =
    [
        (NodeOptions.Section, typeof(NodeOptions)),
        (ClusterOptions.Section, typeof(ClusterOptions)),
        (RedisOptions.Section, typeof(RedisOptions)),
        ("Cart", typeof(CartRuntimeOptions)),
        (Dashboard.DashboardOptions.Section, typeof(Dashboard.DashboardOptions)),
    ];

    /// <summary>Sections .NET reads itself, whose keys are open (log categories, provider names).</summary>
    private static readonly string[] OpenSections = ["Logging"];

    private static readonly Dictionary<string, Setting> ByKey = Discover().ToDictionary(s => s.Key, StringComparer.OrdinalIgnoreCase);

    /// <summary>One setting: its full key, value type, built-in default and short flag (if any).</summary>
    internal sealed record Setting(string Key, Type Type, object? Default)
    {
        public string? Flag => NodeCommandLine.FlagFor(Key);

        /// <summary>How the setting is named in a message: "Cart:IdleTtl (--idle-ttl)".</summary>
        public string Name => Flag is { } flag ? $"{Key} ({flag})" : Key;

        public string TypeName => Type == typeof(TimeSpan) ? "duration"
            : Type == typeof(int) || Type == typeof(long) ? "number"
            : Type == typeof(bool) ? "true|false"
            : Type.IsArray ? "list"
            : "text";
    }

    /// <summary>Every setting, in section and declaration order.</summary>
    public static IEnumerable<Setting> All => ByKey.Values;

    public static bool TryGet(string key, out Setting setting) => ByKey.TryGetValue(key, out setting!);

    /// <summary>True for a setting, an element of a list setting ("Node:Seeds:0") or a key of an open section.</summary>
    public static bool IsKnown(string key)
    {
        if (ByKey.ContainsKey(key))
        {
            return true;
        }

        if (OpenSections.Any(open => key.StartsWith(open + ":", StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        var lastColon = key.LastIndexOf(':');
        return lastColon > 0
            && int.TryParse(key.AsSpan(lastColon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && ByKey.TryGetValue(key[..lastColon], out var parent)
            && parent.Type.IsArray;
    }

    /// <summary>
    /// Checks every value of the option sections, from any source (appsettings, environment, command line),
    /// and returns the durations written with a unit ("30m") in the .NET form the binder reads.
    /// </summary>
    /// <exception cref="NodeConfigurationException">An unknown key, or a value of the wrong type; the message names the setting.</exception>
    public static Dictionary<string, string?> CheckAndNormalize(IConfiguration configuration)
    {
        var normalized = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (section, _) in Sections)
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                // The section's own value: the host's plain command-line source also holds "--dashboard true" as
                // the key "dashboard", which is the "Dashboard" section itself.
                if (value is null || string.Equals(key, section, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (!IsKnown(key))
                {
                    var hint = NodeCommandLine.Nearest(key, ByKey.Keys) is { } near ? $" (did you mean {near}?)" : string.Empty;
                    throw new NodeConfigurationException($"unknown setting {key}{hint}");
                }

                if (ByKey.TryGetValue(key, out var setting) && Check(setting, value) is { } problem)
                {
                    throw new NodeConfigurationException(problem);
                }

                if (setting?.Type == typeof(TimeSpan) && Durations.TryParse(value, out var duration))
                {
                    normalized[key] = duration.ToString("c", CultureInfo.InvariantCulture);
                }
            }
        }

        return normalized;
    }

    /// <summary>The default as --help shows it.</summary>
    public static string DescribeDefault(Setting setting) => setting.Key switch
    {
        "Node:Host" => "machine name:<port>",
        "Cart:ShardCount" => $"4 x cores ({setting.Default} here)",
        _ => setting.Default switch
        {
            null => "none",
            TimeSpan t => Durations.Format(t),
            bool b => b ? "true" : "false",
            string s => s,
            ICollection { Count: 0 } => "none",
            IEnumerable e => string.Join(",", e.Cast<object>()),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            var other => other.ToString() ?? "none",
        },
    };

    private static string? Check(Setting setting, string value)
    {
        var type = Nullable.GetUnderlyingType(setting.Type) ?? setting.Type;
        var ok = type == typeof(TimeSpan) ? Durations.TryParse(value, out _)
            : type == typeof(int) ? int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
            : type == typeof(long) ? long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
            : type == typeof(double) ? double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
            : type == typeof(bool) ? bool.TryParse(value, out _)
            : !type.IsEnum || Enum.TryParse(type, value, ignoreCase: true, out _);
        if (ok)
        {
            return null;
        }

        var expected = type == typeof(TimeSpan) ? $"a duration ({Durations.Formats})"
            : type == typeof(bool) ? "true or false"
            : type.IsEnum ? "one of " + string.Join(", ", Enum.GetNames(type))
            : type == typeof(double) ? "a number"
            : "a whole number";
        return $"{setting.Name} '{value}' is not {expected}";
    }

    private static IEnumerable<Setting> Discover()
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (section, type) in Sections)
        {
            foreach (var setting in Properties(section, type, Activator.CreateInstance(type)))
            {
                seen.Add(setting.Key);
                yield return setting;
            }
        }

        // A flag whose setting no option class declares is still a setting (read directly from configuration).
        foreach (var key in NodeCommandLine.SwitchMappings.Values)
        {
            if (seen.Add(key))
            {
                yield return new Setting(key, typeof(string), null);
            }
        }
    }

    private static IEnumerable<Setting> Properties(string prefix, Type type, object? instance)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            var key = $"{prefix}:{property.Name}";
            var value = instance is null ? null : property.GetValue(instance);
            var propertyType = property.PropertyType;
            if (propertyType.IsClass && propertyType != typeof(string) && !propertyType.IsArray
                && propertyType.GetConstructor(Type.EmptyTypes) is not null)
            {
                // A nested options object ("Node:Tls:CertPath"): its properties are settings of their own.
                foreach (var nested in Properties(key, propertyType, value ?? Activator.CreateInstance(propertyType)))
                {
                    yield return nested;
                }

                continue;
            }

            yield return new Setting(key, propertyType, value);
        }
    }
}

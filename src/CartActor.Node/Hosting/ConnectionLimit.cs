using System.Globalization;

namespace CartActor.Node.Hosting;

/// <summary>
/// The size of the connection cap of each endpoint (enforced by <see cref="ConnectionCap"/>). Past the
/// open-file limit a process cannot accept, open a store file or dial a peer, and the runtime aborts
/// ("Out of memory."); so by default the cap leaves room below the soft limit the node sees at start:
/// (limit - 256 reserved for the store, peers and the runtime) / 2 per endpoint, at least 16.
/// </summary>
internal static class ConnectionLimit
{
    private const int Reserved = 256;

    /// <summary>The effective cap per endpoint: <paramref name="configured"/> when set (above 0), otherwise derived from the open-file limit.</summary>
    public static int Effective(int configured) => configured > 0 ? configured : FromOpenFileLimit(OpenFileLimit());

    public static int FromOpenFileLimit(long? softLimit) =>
        softLimit is { } limit ? (int)Math.Clamp((limit - Reserved) / 2, 16, 100_000) : 10_000;

    /// <summary>The soft RLIMIT_NOFILE from /proc/self/limits, or null where there is none (not Linux).</summary>
    public static long? OpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    continue;
                }

                var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : null;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}

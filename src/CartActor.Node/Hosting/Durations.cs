using System.Globalization;

namespace CartActor.Node.Hosting;

/// <summary>
/// Durations as operators write them: "500ms", "10s", "30m", "1h", "2d", or .NET's "00:30:00". Settings
/// are normalised to the .NET form before binding, so every TimeSpan setting, from any source, accepts both.
/// </summary>
internal static class Durations
{
    public const string Formats = "500ms, 10s, 30m, 1h, 2d or 00:30:00";

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim();
        if (TryParseWithUnit(s, out value))
        {
            return true;
        }

        // The .NET form needs a colon ("00:30:00", "1.00:00:00"); a bare number has no unit and is refused
        // rather than read as days, which is what TimeSpan.Parse would do with "30".
        return s.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The shortest exact form: "30m", "500ms", "30d"; the .NET form when no single unit fits.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero) return "0s";
        if (value.Ticks % TimeSpan.TicksPerDay == 0) return $"{value.Ticks / TimeSpan.TicksPerDay}d";
        if (value.Ticks % TimeSpan.TicksPerHour == 0) return $"{value.Ticks / TimeSpan.TicksPerHour}h";
        if (value.Ticks % TimeSpan.TicksPerMinute == 0) return $"{value.Ticks / TimeSpan.TicksPerMinute}m";
        if (value.Ticks % TimeSpan.TicksPerSecond == 0) return $"{value.Ticks / TimeSpan.TicksPerSecond}s";
        if (value.Ticks % TimeSpan.TicksPerMillisecond == 0) return $"{value.Ticks / TimeSpan.TicksPerMillisecond}ms";
        return value.ToString("c", CultureInfo.InvariantCulture);
    }

    private static bool TryParseWithUnit(string s, out TimeSpan value)
    {
        value = default;
        var unitStart = s.Length;
        while (unitStart > 0 && char.IsAsciiLetter(s[unitStart - 1]))
        {
            unitStart--;
        }

        if (unitStart == 0 || unitStart == s.Length
            || !double.TryParse(s.AsSpan(0, unitStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        double? ms = s[unitStart..].ToLowerInvariant() switch
        {
            "ms" => amount,
            "s" => amount * 1_000,
            "m" => amount * 60_000,
            "h" => amount * 3_600_000,
            "d" => amount * 86_400_000,
            _ => null,
        };
        if (ms is not { } milliseconds || milliseconds > TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)Math.Round(milliseconds * TimeSpan.TicksPerMillisecond));
        return true;
    }
}

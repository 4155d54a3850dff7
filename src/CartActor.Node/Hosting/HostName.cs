using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace CartActor.Node.Hosting;

/// <summary>Parses and checks "name:port" host strings, the form peers dial and the contract carries.</summary>
public static class HostName
{
    public const int MaxLength = 255;

    /// <summary>"name:port" (IPv6 as "[::1]:port") with a port of 1..65535.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out DnsEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength)
        {
            return false;
        }

        var colon = value.LastIndexOf(':');
        if (colon <= 0 || colon == value.Length - 1)
        {
            return false;
        }

        var name = value[..colon];
        if (name.StartsWith('[') && name.EndsWith(']'))
        {
            name = name[1..^1];
        }
        else if (name.Contains(':'))
        {
            return false;
        }

        if (!int.TryParse(value.AsSpan(colon + 1), out var port) || port is < 1 or > 65535 || !IsValidName(name))
        {
            return false;
        }

        endpoint = new DnsEndPoint(name, port);
        return true;
    }

    public static bool IsValidHostOrHostPort(string value) =>
        TryParse(value, out _) || IsValidName(value);

    /// <summary>"name" becomes "name:port"; "name:port" stays as given.</summary>
    public static string WithPort(string hostOrHostPort, int port) =>
        TryParse(hostOrHostPort, out _) ? hostOrHostPort : $"{hostOrHostPort}:{port}";

    private static bool IsValidName(string name)
    {
        if (name.Length is 0 or > MaxLength)
        {
            return false;
        }

        if (IPAddress.TryParse(name, out _))
        {
            return true;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
            {
                return false;
            }
        }

        return true;
    }
}

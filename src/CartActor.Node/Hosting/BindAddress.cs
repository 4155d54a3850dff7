using System.Net;

namespace CartActor.Node.Hosting;

/// <summary>The bind setting: one IP, loopback by name, or every interface.</summary>
internal readonly record struct BindAddress(IPAddress? Address, bool Localhost, bool Any)
{
    public static bool TryParse(string value, out BindAddress bind)
    {
        bind = default;
        switch (value.Trim())
        {
            case "*" or "0.0.0.0" or "::" or "[::]":
                bind = new BindAddress(null, false, true);
                return true;
            case "localhost":
                bind = new BindAddress(null, true, false);
                return true;
        }

        if (IPAddress.TryParse(value.Trim().Trim('[', ']'), out var ip))
        {
            bind = new BindAddress(ip, false, false);
            return true;
        }

        return false;
    }
}

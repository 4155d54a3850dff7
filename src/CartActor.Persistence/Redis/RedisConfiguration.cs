using System.Globalization;
using StackExchange.Redis;

namespace CartActor.Persistence.Redis;

/// <summary>Turns <see cref="RedisStoreOptions"/> into the client's configuration, with the store's failure policy applied.</summary>
internal static class RedisConfiguration
{
    public static ConfigurationOptions From(RedisStoreOptions options)
    {
        var configuration = Parse(options.ConnectionString);
        var timeoutMs = (int)Math.Ceiling(options.Timeout.TotalMilliseconds);

        // The node must start (and serve its other duties) while Redis is down; the client keeps reconnecting.
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = timeoutMs;
        configuration.SyncTimeout = timeoutMs;
        configuration.AsyncTimeout = timeoutMs;

        // While disconnected, fail at once instead of queueing (the 3.x default queues until the timeout):
        // a caller gets StoreUnavailable now and retries, and a shard is not held for the whole timeout.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName ??= "cartactor";
        return configuration;
    }

    /// <summary>
    /// The connection string as a log line may show it: endpoints and options, never the password (a URI's
    /// user-info or a <c>password=</c> option). A string that does not parse is not repeated at all.
    /// </summary>
    public static string Describe(string connectionString)
    {
        try
        {
            return Parse(connectionString).ToString(includePassword: false);
        }
        catch (ArgumentException)
        {
            return "(a connection string that does not parse)";
        }
    }

    /// <summary>
    /// Accepts <c>redis://</c> and <c>rediss://</c> URIs and plain StackExchange.Redis configuration strings.
    /// Error messages never repeat the string: it may hold a password.
    /// </summary>
    public static ConfigurationOptions Parse(string connectionString)
    {
        var text = connectionString.Trim();
        var isTls = text.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase);
        if (!isTls && !text.StartsWith("redis://", StringComparison.OrdinalIgnoreCase))
        {
            return ConfigurationOptions.Parse(text);
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            throw new ArgumentException("the Redis URI is not valid; expected redis://[user:password@]host[:port][/db]", nameof(connectionString));
        }

        var configuration = new ConfigurationOptions { Ssl = isTls };
        configuration.EndPoints.Add(uri.IdnHost, uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
        if (isTls)
        {
            configuration.SslHost = uri.IdnHost;
        }

        if (uri.UserInfo.Length > 0)
        {
            var userInfo = Uri.UnescapeDataString(uri.UserInfo);
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                configuration.Password = userInfo;
            }
            else
            {
                if (colon > 0)
                {
                    configuration.User = userInfo[..colon];
                }

                configuration.Password = userInfo[(colon + 1)..];
            }
        }

        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out var database))
            {
                throw new ArgumentException($"the Redis URI's path must be a database number, not '{path}'", nameof(connectionString));
            }

            configuration.DefaultDatabase = database;
        }

        return configuration;
    }
}

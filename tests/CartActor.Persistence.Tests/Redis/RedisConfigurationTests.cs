using System.Net;
using CartActor.Persistence.Redis;
using StackExchange.Redis;

namespace CartActor.Persistence.Tests.Redis;

/// <summary>Connection strings and client policy: no server needed.</summary>
public sealed class RedisConfigurationTests
{
    [Theory]
    [InlineData("redis://cache.internal:6380", "cache.internal", 6380, null, null, -1, false)]
    [InlineData("redis://cache.internal", "cache.internal", 6379, null, null, -1, false)]
    [InlineData("redis://:s%40cret@10.0.0.5:7000/2", "10.0.0.5", 7000, null, "s@cret", 2, false)]
    [InlineData("redis://app:pw@10.0.0.5:7000", "10.0.0.5", 7000, "app", "pw", -1, false)]
    [InlineData("rediss://cache.internal:6380", "cache.internal", 6380, null, null, -1, true)]
    [InlineData("cache.internal:6380", "cache.internal", 6380, null, null, -1, false)]
    [InlineData("cache.internal:6380,password=pw", "cache.internal", 6380, null, "pw", -1, false)]
    public void Connection_strings_parse_as_uri_or_plain_configuration(string text, string host, int port, string? user, string? password, int database, bool tls)
    {
        var configuration = RedisConfiguration.Parse(text);

        var (actualHost, actualPort) = Assert.Single(configuration.EndPoints) switch
        {
            DnsEndPoint dns => (dns.Host, dns.Port),
            IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            var other => throw new InvalidOperationException($"unexpected end point {other}"),
        };
        Assert.Equal(host, actualHost);
        Assert.Equal(port, actualPort);
        Assert.Equal(user, configuration.User);
        Assert.Equal(password, configuration.Password);
        Assert.Equal(database, configuration.DefaultDatabase ?? -1);
        Assert.Equal(tls, configuration.Ssl);
    }

    [Theory]
    [InlineData("redis://:s3cret-pw@10.0.0.5:7000/2", "10.0.0.5:7000")]
    [InlineData("redis://app:s3cret-pw@10.0.0.5:7000", "10.0.0.5:7000")]
    [InlineData("cache.internal:6380,password=s3cret-pw", "cache.internal:6380")]
    [InlineData("rediss://user:s3cret-pw@cache.internal", "cache.internal:6379")]
    public void The_description_a_log_line_shows_names_the_endpoint_and_never_the_password(string text, string endpoint)
    {
        var description = RedisConfiguration.Describe(text);

        Assert.Contains(endpoint, description, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", description, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connection_string_that_does_not_parse_is_not_repeated()
    {
        var description = RedisConfiguration.Describe("redis://:s3cret-pw@/nohost");

        Assert.DoesNotContain("s3cret", description, StringComparison.Ordinal);
    }

    [Fact]
    public void The_store_never_queues_while_disconnected_and_never_aborts_start_up()
    {
        var configuration = RedisConfiguration.From(new RedisStoreOptions { ConnectionString = "redis://127.0.0.1:1", Timeout = TimeSpan.FromSeconds(2) });

        Assert.False(configuration.AbortOnConnectFail);
        Assert.Same(BacklogPolicy.FailFast, configuration.BacklogPolicy);
        Assert.Equal(2000, configuration.SyncTimeout);
        Assert.Equal(2000, configuration.AsyncTimeout);
        Assert.Equal(2000, configuration.ConnectTimeout);
    }

    [Fact]
    public void Invalid_options_are_refused_before_connecting()
    {
        Assert.Throws<ArgumentException>(() => RedisCartStore.Connect(new RedisStoreOptions { ConnectionString = " " }));
        Assert.Throws<ArgumentException>(() => RedisCartStore.Connect(new RedisStoreOptions { Retention = TimeSpan.Zero }));
        Assert.Throws<ArgumentException>(() => RedisCartStore.Connect(new RedisStoreOptions { KeyPrefix = "" }));
        Assert.Throws<ArgumentException>(() => RedisCartStore.Connect(new RedisStoreOptions { ConnectionString = "redis://host/notanumber" }));
    }
}

using System.Text.RegularExpressions;
using CartActor.Node.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CartActor.Node.Tests;

/// <summary>The command line as an operator meets it: typos refused by name, --help and --version, durations with units.</summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData(new[] { "--seed", "127.0.0.1:1338" }, "'--seed'", "--seeds")]
    [InlineData(new[] { "--prot", "1338" }, "'--prot'", "--port")]
    [InlineData(new[] { "--sotre", "memory" }, "'--sotre'", "--store")]
    [InlineData(new[] { "--Node:Prot", "1338" }, "'--Node:Prot'", "--Node:Port")]
    public async Task ATypoStopsStartUpNamingTheOptionAndTheNearestKnownFlag(string[] args, string named, string suggested)
    {
        var (exitCode, stdout, stderr) = await NodeCommand.RunAsync(["--port", "0", "--http-port", "0", "--store", "memory", .. args]);

        Assert.Equal(2, exitCode);
        Assert.Contains($"unknown option {named} (did you mean {suggested}?)", stderr, StringComparison.Ordinal);
        Assert.Contains("usage: cartactor", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("serving gRPC", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMalformedDurationStopsStartUpNamingTheFlagAndTheAcceptedFormats()
    {
        var (exitCode, _, stderr) = await NodeCommand.RunAsync("--port", "0", "--http-port", "0", "--store", "memory", "--idle-ttl", "soon");

        Assert.Equal(2, exitCode);
        Assert.Contains("Cart:IdleTtl (--idle-ttl) 'soon' is not a duration (500ms, 10s, 30m, 1h, 2d or 00:30:00)", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HelpListsEveryFlagWithItsDefaultAndStartsNoNode()
    {
        var (exitCode, stdout, _) = await NodeCommand.RunAsync("--help");

        Assert.Equal(0, exitCode);
        var lines = stdout.Split('\n');
        foreach (var (flag, key) in NodeCommandLine.SwitchMappings)
        {
            Assert.Contains(lines, l => l.TrimStart().StartsWith(flag + " <", StringComparison.Ordinal) && l.Contains(key, StringComparison.Ordinal) && l.Contains("default ", StringComparison.Ordinal));
        }

        Assert.Contains(lines, l => l.Contains("--port <number>", StringComparison.Ordinal) && l.TrimEnd().EndsWith("default 1337", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("--idle-ttl <duration>", StringComparison.Ordinal) && l.TrimEnd().EndsWith("default 30m", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("--Cluster:DeadAfter <duration>", StringComparison.Ordinal) && l.TrimEnd().EndsWith("default 10s", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("--Node:ShutdownTimeout <duration>", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("--dashboard <true|false>", StringComparison.Ordinal) && l.TrimEnd().EndsWith("default false", StringComparison.Ordinal));
        Assert.DoesNotContain("Now listening", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VersionPrintsTheVersionAndTheCommitAndStartsNoNode()
    {
        var (exitCode, stdout, _) = await NodeCommand.RunAsync("--version");

        Assert.Equal(0, exitCode);
        Assert.Matches(new Regex(@"^cartactor \d+\.\d+\.\d+\S* \(commit [0-9a-f]{40}\)\s*$"), stdout);
    }

    [Theory]
    [InlineData("--idle-ttl", "30m", 30 * 60_000)]
    [InlineData("--idle-ttl", "00:30:00", 30 * 60_000)]
    [InlineData("--Cart:IdleTtl", "1h", 3_600_000)]
    [InlineData("--Cart:IdleTtl", "500ms", 500)]
    public void DurationsAcceptUnitsAndTheDotNetForm(string flag, string value, int expectedMs)
    {
        using var app = NodeHost.Build(["--port", "0", "--http-port", "0", "--store", "memory", flag, value]);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), app.Services.GetRequiredService<CartRuntimeOptions>().IdleTtl);
    }

    [Fact]
    public void EveryTimeSpanSettingAcceptsUnitsThroughItsFullName()
    {
        using var app = NodeHost.Build(["--port", "0", "--http-port", "0", "--store", "memory", "--Cluster:DeadAfter", "10s", "--Cluster:PingInterval", "250ms", "--Node:ShutdownTimeout=2m"]);

        Assert.Equal(TimeSpan.FromSeconds(10), app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.DeadAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(250), app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.PingInterval);
        Assert.Equal(TimeSpan.FromMinutes(2), app.Services.GetRequiredService<IOptions<NodeOptions>>().Value.ShutdownTimeout);
    }

    [Theory]
    [InlineData(new[] { "--Cluster:DeadAftr", "10s" }, "--Cluster:DeadAfter")]
    [InlineData(new[] { "--port" }, "needs a value")]
    [InlineData(new[] { "--port", "--bind", "*" }, "'--port' needs a value")]
    [InlineData(new[] { "stray" }, "unexpected argument 'stray'")]
    [InlineData(new[] { "-p", "1" }, "unknown option '-p'")]
    public void OtherMistakesAreRefusedBeforeStartUp(string[] args, string expected)
    {
        var ex = Assert.Throws<NodeCommandLineException>(() => NodeHost.Build(["--http-port", "0", "--store", "memory", .. args]));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownSettingFromAnotherSourceIsRefusedToo()
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeHost.Build(
            ["--port", "0", "--http-port", "0", "--store", "memory"],
            builder => builder.Configuration["Node:Sotre"] = "memory"));

        Assert.Contains("unknown setting Node:Sotre (did you mean Node:Store?)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDataDirectoryIsResolvedToAnAbsolutePath()
    {
        using var app = NodeHost.Build(["--port", "0", "--http-port", "0", "--store", "memory", "--data-dir", "relative-data"]);

        Assert.Equal(Path.GetFullPath("relative-data"), app.Services.GetRequiredService<IOptions<NodeOptions>>().Value.DataDir);
    }

    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2d", 172_800_000)]
    [InlineData("1.00:00:00", 86_400_000)]
    public void DurationsParse(string text, long expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), Durations.TryParse(text, out var value) ? value : TimeSpan.MinValue);

    [Theory]
    [InlineData("30")]
    [InlineData("soon")]
    [InlineData("10 parsecs")]
    [InlineData("")]
    public void NotDurations(string text) => Assert.False(Durations.TryParse(text, out _));
}

using System.Text.Json;
using CartActor.ControlPlane;
using CartActor.Node.Diagnostics;
using CartActor.Tests.Shared;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CartActor.Node.Tests;

/// <summary>The log as an operator reads it: the standard Logging configuration, one line per class of failure.</summary>
public sealed class LogTests
{
    [Fact]
    public async Task TheJsonConsoleFormatterIsChosenByConfigurationAndEveryStdoutLineIsJson()
    {
        using var process = NodeCommand.Start(["--port", "0", "--http-port", "0", "--store", "memory", "--Logging:Console:FormatterName", "json"]);
        var lines = new List<string>();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (lines)
            {
                lines.Add(e.Data);
            }

            if (e.Data.Contains("serving gRPC", StringComparison.Ordinal))
            {
                started.TrySetResult();
            }
        };
        process.BeginOutputReadLine();
        try
        {
            await started.Task.WithTimeout();
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WithTimeout();
        }

        string[] output;
        lock (lines)
        {
            output = [.. lines.Where(l => l.Length > 0)];
        }

        Assert.NotEmpty(output);
        foreach (var line in output)
        {
            using var json = JsonDocument.Parse(line);
            Assert.True(json.RootElement.TryGetProperty("LogLevel", out _), line);
            Assert.True(json.RootElement.TryGetProperty("Message", out _), line);
        }

        Assert.Contains(output, l => JsonDocument.Parse(l).RootElement.GetProperty("Category").GetString() == "CartActor.Node.Hosting.NodeLifetime");
    }

    [Fact]
    public async Task FailedRequestsLeaveOneWarningPerClassNotOnePerRequest()
    {
        var logs = new CapturedLogs();
        await using var node = await RunningNode.StartAsync(customize: b => b.Logging.AddProvider(logs));

        for (var i = 0; i < 5; i++)
        {
            await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument, node.Client.ApplyAsync(Carts.Apply(0, Carts.Item("sku-a"))));
        }

        await GrpcTestExtensions.AssertStatusAsync(StatusCode.InvalidArgument, node.Client.GetAsync(new GetRequest { Id = 0 }));
        await node.Client.ApplyAsync(Carts.Apply(Carts.NewId(), Carts.Item("sku-a"))).WithTimeout();

        var failures = logs.Lines.Where(l => l.EventId.Id == 300).ToList();
        Assert.Equal(2, failures.Count);
        Assert.All(failures, l => Assert.Equal(LogLevel.Warning, l.Level));
        Assert.Single(failures, l => l.Message.StartsWith("Apply answered InvalidArgument", StringComparison.Ordinal));
        Assert.Single(failures, l => l.Message.StartsWith("Get answered InvalidArgument", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Level < LogLevel.Warning && l.Category.StartsWith("CartActor.Node.Services", StringComparison.Ordinal));
    }

    [Fact]
    public void AClassThatKeepsFailingWritesAgainAfterTheIntervalWithTheCountOfWhatItSuppressed()
    {
        var time = new FakeTimeProvider();
        var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var log = new FailedRequestLog(factory.CreateLogger<FailedRequestLog>(), time);
        const string Apply = "/control_plane_messages.ControlPlane/Apply";

        log.Failed(Apply, StatusCode.Unavailable, "store down");
        for (var i = 0; i < 41; i++)
        {
            log.Failed(Apply, StatusCode.Unavailable, "store down");
            time.Advance(TimeSpan.FromMilliseconds(200));
        }

        // 41 x 200 ms = 8.2 s: still inside the first 10 s, so one line so far.
        Assert.Single(logs.Lines);
        Assert.Contains("Apply answered Unavailable to 1 calls", logs.Lines[0].Message, StringComparison.Ordinal);
        time.Advance(TimeSpan.FromSeconds(2));
        log.Failed(Apply, StatusCode.Unavailable, "store down");

        Assert.Equal(2, logs.Lines.Count);
        Assert.Contains("Apply answered Unavailable to 42 calls", logs.Lines[1].Message, StringComparison.Ordinal);
        log.Failed(Apply, StatusCode.OK, null);
        Assert.Equal(2, logs.Lines.Count);
    }
}

using System.Diagnostics;
using System.Text.Json;
using CartActor.Tests.Shared;
using Grpc.Net.Client;
using ControlPlaneClient = CartActor.ControlPlane.ControlPlane.ControlPlaneClient;

namespace CartActor.Node.Tests;

/// <summary>
/// The built node as a real process (see <see cref="NodeCommand"/>) on free loopback ports, logging JSON lines
/// that are kept for assertions by event id, with a gRPC and an HTTP client pointed at it. Dispose kills it.
/// </summary>
internal sealed class LoggedNodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly GrpcChannel _channel;

    private LoggedNodeProcess(Process process, NodeLog log, string grpcEndpoint, string httpEndpoint)
    {
        _process = process;
        Log = log;
        _channel = GrpcChannel.ForAddress($"http://{grpcEndpoint}");
        Client = new ControlPlaneClient(_channel);
        Http = new HttpClient { BaseAddress = new Uri($"http://{httpEndpoint}"), Timeout = TestTimeouts.Default };
    }

    public ControlPlaneClient Client { get; }

    public HttpClient Http { get; }

    public NodeLog Log { get; }

    /// <summary>Starts the node with <paramref name="args"/> after ports 0, loopback and JSON logging; returns once it serves.</summary>
    public static async Task<LoggedNodeProcess> StartAsync(params string[] args)
    {
        string[] all = ["--port", "0", "--http-port", "0", "--host", "127.0.0.1", "--Logging:Console:FormatterName", "json", "--Node:ShutdownTimeout", "00:00:05", "--Node:DrainDelay", "00:00:00", .. args];
        var process = NodeCommand.Start(all);
        var log = new NodeLog();
        process.OutputDataReceived += (_, e) => log.Add(e.Data);
        process.ErrorDataReceived += (_, e) => log.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var (grpc, http) = await log.Started.WaitAsync(TestTimeouts.Default).ConfigureAwait(false);
            return new LoggedNodeProcess(process, log, grpc, http);
        }
        catch (TimeoutException)
        {
            Kill(process);
            throw new TimeoutException("the node did not start: " + log.Text());
        }
    }

    /// <summary>Kills the process (SIGKILL, as a crash would) and waits for it.</summary>
    public void Kill() => Kill(_process);

    public void Dispose()
    {
        Kill(_process);
        _process.Dispose();
        _channel.Dispose();
        Http.Dispose();
    }

    private static void Kill(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        process.WaitForExit(TestTimeouts.Default);
    }

    /// <summary>
    /// What the node printed: its own JSON lines (categories CartActor.*) by event id; anything else (the
    /// framework's lines, whose ids overlap ours, and the runtime's plain text) kept as text for failure messages.
    /// </summary>
    internal sealed class NodeLog
    {
        private const int StartedEventId = 1;

        private readonly List<(int EventId, string Message)> _lines = [];
        private readonly TaskCompletionSource<(string Grpc, string Http)> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<(string Grpc, string Http)> Started => _started.Task;

        public IReadOnlyList<string> Messages(int eventId)
        {
            lock (_lines)
            {
                return [.. _lines.Where(l => l.EventId == eventId).Select(l => l.Message)];
            }
        }

        /// <summary>
        /// The lines of <paramref name="eventId"/> once at least <paramref name="count"/> arrived: the node's console
        /// logger writes on its own thread and the pipe is read on another, so a line can reach the test after an
        /// effect the node made visible (a readiness change) right after logging it.
        /// </summary>
        public async Task<IReadOnlyList<string>> WaitForMessagesAsync(int eventId, int count = 1)
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                var messages = Messages(eventId);
                if (messages.Count >= count || waited.Elapsed > TestTimeouts.Default)
                {
                    return messages;
                }

                await Task.Delay(50);
            }
        }

        public string Text()
        {
            lock (_lines)
            {
                return string.Join('\n', _lines.Select(l => $"[{l.EventId}] {l.Message}"));
            }
        }

        public void Add(string? line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                return;
            }

            var eventId = -1;
            var message = line;
            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                message = root.GetProperty("Message").GetString() ?? string.Empty;
                if (root.GetProperty("Category").GetString()?.StartsWith("CartActor.", StringComparison.Ordinal) == true)
                {
                    eventId = root.GetProperty("EventId").GetInt32();
                }

                if (eventId == StartedEventId && root.TryGetProperty("State", out var state))
                {
                    _started.TrySetResult((state.GetProperty("GrpcEndpoint").GetString()!, state.GetProperty("HttpEndpoint").GetString()!));
                }
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // Not a JSON log line (the runtime's own output): kept as text.
            }

            lock (_lines)
            {
                _lines.Add((eventId, message));
            }
        }
    }
}

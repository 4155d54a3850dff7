using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace CartActor.Node.Tests;

/// <summary>A logger provider that keeps every line written through it, for tests that assert on what the log says.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, LogLevel Level, EventId EventId, string Message)> _lines = new();

    private readonly ConcurrentQueue<string> _timeline = new();

    public IReadOnlyList<(string Category, LogLevel Level, EventId EventId, string Message)> Lines => [.. _lines];

    /// <summary>Every line with its UTC time of day, in order, for a failure message.</summary>
    public string Timeline => string.Join(Environment.NewLine, _timeline);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            owner._lines.Enqueue((category, logLevel, eventId, message));
            owner._timeline.Enqueue(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}[{eventId.Id}] {message}{(exception is null ? "" : " " + exception)}"));
        }
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Concentrator.Tests.Security;

/// <summary>Every log line of every category, formatted and with its structured fields, at any level.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public sealed record Line(string Category, LogLevel Level, int EventId, string Message, string Fields, string? Exception);

    public ConcurrentQueue<Line> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public int Count(int eventId) => Lines.Count(l => l.EventId == eventId);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = new System.Text.StringBuilder();
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (var kv in pairs) fields.Append(kv.Key).Append('=').Append(kv.Value).Append(';');
            }
            sink.Lines.Enqueue(new Line(category, logLevel, eventId.Id, formatter(state, exception), fields.ToString(), exception?.ToString()));
        }
    }
}

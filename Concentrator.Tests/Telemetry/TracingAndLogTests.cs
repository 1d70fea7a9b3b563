using System.Collections.Concurrent;
using System.Diagnostics;
using Concentrator.Telemetry;
using Concentrator.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Concentrator.Tests.Telemetry;

public sealed class TracingAndLogTests
{
    [Fact]
    public async Task Each_exchange_is_a_span_under_the_establishment_span_and_no_secret_is_in_any()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == IkeTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        await using (var node = await ObservedNode.StartAsync(withSite: true, name: "trace"))
        {
            await Eventually.TrueAsync(() => node.Site!.Options.DataPlane.InstalledCount == 1, "the site tunnel is up", 20);
            await node.Gateway.ShutdownAsync(TimeSpan.FromSeconds(5)); // INFORMATIONAL Delete to the branch
        }

        // Other tests run in parallel: follow only the traces of this test's connections.
        var all = spans.ToArray();
        var setup = all.Where(a => a.DisplayName == IkeTracing.EstablishmentSpan).ToList();
        var initiator = Assert.Single(setup, a => (string?)a.GetTagItem("ike.connection") == "obs-site");
        Assert.Equal("initiator", initiator.GetTagItem("ike.role"));
        Assert.Equal("established", initiator.GetTagItem("ike.outcome"));
        Assert.Contains("AesGcm16-256", (string?)initiator.GetTagItem("ike.proposal") ?? "");

        var children = all.Where(a => a.ParentSpanId == initiator.SpanId).ToList();
        Assert.Contains(children, a => a.DisplayName == "IKE_SA_INIT" && (string?)a.GetTagItem("ike.outcome") == "ok" && a.Kind == ActivityKind.Client);
        Assert.Contains(children, a => a.DisplayName == "IKE_AUTH" && (string?)a.GetTagItem("ike.exchange") == "ike_auth");

        var responder = Assert.Single(setup, a => (string?)a.GetTagItem("ike.connection") == "obs-hq");
        Assert.Equal("responder", responder.GetTagItem("ike.role"));
        Assert.Contains(all, a => a.ParentSpanId == responder.SpanId && a.DisplayName == "IKE_AUTH" && a.Kind == ActivityKind.Server);
        Assert.Contains(all, a => a.DisplayName == "INFORMATIONAL" && (string?)a.GetTagItem("ike.connection") == "obs-site");

        foreach (var span in all)
        {
            foreach (var tag in span.TagObjects)
            {
                string value = tag.Value?.ToString() ?? "";
                Assert.DoesNotContain(ObservedNode.Psk, value);
                Assert.DoesNotContain("branch.obs", value); // identities stay out of spans
                Assert.DoesNotContain("gw-site.obs", value);
            }
        }
    }

    [Fact]
    public async Task Every_ike_sa_state_change_is_one_structured_line_with_peer_and_connection()
    {
        var sink = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(sink));
        await using (var node = await ObservedNode.StartAsync(withSite: true, loggers: loggers, name: "logs"))
        {
            await Eventually.TrueAsync(() => node.Site!.Options.DataPlane.InstalledCount == 1, "the site tunnel is up", 20);
            Assert.Equal(2, await node.EstablishAsync(2));
            await node.Fleet.DeleteAllAsync(TimeSpan.FromSeconds(10));
            await node.Gateway.ShutdownAsync(TimeSpan.FromSeconds(5));
        }

        var lines = sink.Lines.ToArray();
        var byEvent = lines.ToLookup(l => l.EventId);
        Assert.Single(byEvent[1005]);                        // initiating: site (created/connecting as initiator)
        Assert.Equal(2, byEvent[1006].Count());              // created as responder: the two fleet peers
        Assert.Equal(3, byEvent[1001].Count());              // established
        Assert.Single(byEvent[1007]);                        // deleting: the site SA at shutdown
        Assert.Equal(3, byEvent[1002].Count());              // closed
        Assert.All(byEvent[1001], l => Assert.True(l.Fields.ContainsKey("Peer") && l.Fields.ContainsKey("Connection")));
        Assert.Contains(byEvent[1002], l => (string?)l.Fields["Connection"] == "rw" && l.Fields["Reason"]?.ToString() == "DeletedByPeer");
        Assert.Contains(byEvent[1002], l => (string?)l.Fields["Connection"] == "obs-site");
        Assert.All(lines, l => Assert.DoesNotContain(ObservedNode.Psk, l.Message));
    }

    private sealed record LogLine(int EventId, string Message, IReadOnlyDictionary<string, object?> Fields);

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<LogLine> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider sink) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var fields = new Dictionary<string, object?>();
                if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
                {
                    foreach (var kv in pairs) fields[kv.Key] = kv.Value;
                }
                sink.Lines.Enqueue(new LogLine(eventId.Id, formatter(state, exception), fields));
            }
        }
    }
}

using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Concentrator.Telemetry;

/// <summary>
/// Exports the <see cref="IkeTracing"/> spans with OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set
/// (the standard OpenTelemetry variables, e.g. <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, apply); otherwise
/// tracing stays off and no listener exists, so the protocol code pays a null check per span.
/// </summary>
public static class TracingExporter
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The tracer provider to dispose at shutdown (flushes pending spans), or null when tracing is off.</summary>
    public static TracerProvider? StartFromEnvironment(ILogger log, string serviceName = "concentrator")
    {
        string? endpoint = Environment.GetEnvironmentVariable(EndpointVariable);
        if (string.IsNullOrWhiteSpace(endpoint)) return null;
        var provider = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(r => r.AddService(serviceName))
            .AddSource(IkeTracing.SourceName)
            .AddOtlpExporter()
            .Build();
        Log.TracingEnabled(log, endpoint);
        return provider;
    }
}

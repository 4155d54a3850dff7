using CartActor.Diagnostics;
using CartActor.Node.Diagnostics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CartActor.Node.Hosting;

/// <summary>
/// Traces, off by default. `--traces otlp` (Node:Traces) registers OpenTelemetry's tracer provider for the node's
/// two sources (CartActor.Node: Apply, Get, WatchCart, forwards; CartActor: store loads and writes) with the OTLP
/// exporter, which reads the standard variables itself (OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL, _HEADERS, OTEL_EXPORTER_OTLP_TRACES_*).
/// An OTEL_* variable alone does not turn traces on: a pod that inherits a collector's address for other
/// programs must not start exporting, so the switch is this one setting. Off, nothing listens to the sources
/// and the request path takes its untraced branch (NodeTracing.IsOn).
/// </summary>
internal static class TracingHosting
{
    public const string Off = "off";
    public const string Otlp = "otlp";

    /// <summary>The service name spans carry unless OTEL_SERVICE_NAME names another.</summary>
    public const string ServiceName = "cartactor";

    public static bool IsKnown(string? value) => value is Off or Otlp;

    public static void AddTracing(WebApplicationBuilder builder, NodeOptions options)
    {
        if (options.Traces != Otlp)
        {
            return;
        }

        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } named ? named : ServiceName;
        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing
            .ConfigureResource(resource => resource.AddService(serviceName))
            .AddSource(NodeTracing.SourceName, CartTracing.SourceName)
            .AddOtlpExporter());
    }
}

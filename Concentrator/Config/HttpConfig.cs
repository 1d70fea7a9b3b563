namespace Concentrator.Config;

/// <summary>Health/metrics endpoint, "host:port" or "[v6]:port".</summary>
public sealed class HttpConfig
{
    public string Listen { get; init; } = "127.0.0.1:9400";
}

using System.Net;

namespace Concentrator.Config;

/// <summary>Health/metrics/admin endpoint, "host:port" or "[v6]:port".</summary>
public sealed class HttpConfig
{
    /// <summary>The admin API's bearer token; not a config key, so the file can be world-readable without it.</summary>
    public const string AdminTokenVariable = "CONCENTRATOR_ADMIN_TOKEN";

    public string Listen { get; init; } = "127.0.0.1:9400";

    /// <summary>The listen address is 127.0.0.0/8 or ::1 (only local processes can connect).</summary>
    public bool IsLoopback
    {
        get
        {
            int colon = Listen.LastIndexOf(':');
            string host = (colon > 0 ? Listen[..colon] : Listen).Trim('[', ']');
            return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
        }
    }

    /// <summary>
    /// The admin token from <see cref="AdminTokenVariable"/> (null when unset or empty). The endpoint is plain HTTP, so
    /// a token is only allowed with a loopback <see cref="Listen"/>: anywhere else clients would send it in clear text
    /// over the network. That combination is a <see cref="ConfigException"/> naming http.listen in
    /// <paramref name="source"/>, before anything starts.
    /// </summary>
    public string? AdminToken(Func<string, string?> getEnvironment, string source)
    {
        var token = getEnvironment(AdminTokenVariable);
        if (string.IsNullOrEmpty(token)) return null;
        if (!IsLoopback)
        {
            throw new ConfigException(source, "http.listen",
                $"'{Listen}' is not a loopback address, but {AdminTokenVariable} is set: the admin endpoint has no TLS, so its " +
                "token is only accepted on loopback (use 127.0.0.1 or [::1]; from elsewhere, run the admin commands on the host " +
                "or in the pod)");
        }
        return token;
    }
}

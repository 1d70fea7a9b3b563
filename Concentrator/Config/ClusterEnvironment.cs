using Concentrator.Cluster.Membership;

namespace Concentrator.Config;

/// <summary>Environment overrides of the <c>cluster:</c> section, checked like the section itself.</summary>
public static class ClusterEnvironment
{
    /// <summary>The same section with <see cref="ClusterConfig.Hostname"/> from <see cref="ClusterConfig.HostnameEnvironmentVariable"/>
    /// when that is set, held to the same rules of trust as the file's (<see cref="ClusterConfig.TrustProblem"/>).</summary>
    public static ClusterConfig WithEnvironment(this ClusterConfig c, Func<string, string?> getEnvironment)
    {
        var hostname = getEnvironment(ClusterConfig.HostnameEnvironmentVariable)?.Trim();
        if (string.IsNullOrEmpty(hostname)) return c;
        if (!ClusterAddresses.IsHostname(hostname))
        {
            throw new ConfigException(ClusterConfig.HostnameEnvironmentVariable, "cluster.hostname", $"'{hostname}' is not an IP address or DNS name");
        }
        var overridden = c with { Hostname = hostname };
        return overridden.TrustProblem() is { } trust
            ? throw new ConfigException(ClusterConfig.HostnameEnvironmentVariable, "cluster." + trust.Key, trust.Problem)
            : overridden;
    }
}

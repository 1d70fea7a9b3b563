using Concentrator.Cluster.Membership;

namespace Concentrator.Config;

/// <summary>Environment overrides of the <c>cluster:</c> section, checked like the section itself.</summary>
public static class ClusterEnvironment
{
    /// <summary>The same section with <see cref="ClusterConfig.Hostname"/> from <see cref="ClusterConfig.HostnameEnvironmentVariable"/> when that is set.</summary>
    public static ClusterConfig WithEnvironment(this ClusterConfig c, Func<string, string?> getEnvironment)
    {
        var hostname = getEnvironment(ClusterConfig.HostnameEnvironmentVariable)?.Trim();
        if (string.IsNullOrEmpty(hostname)) return c;
        if (!ClusterAddresses.IsHostname(hostname))
        {
            throw new ConfigException(ClusterConfig.HostnameEnvironmentVariable, "cluster.hostname", $"'{hostname}' is not an IP address or DNS name");
        }
        return new ClusterConfig
        {
            Hostname = hostname, Port = c.Port, SeedNodes = c.SeedNodes, Discovery = c.Discovery, ManagementPort = c.ManagementPort,
            PodLabelSelector = c.PodLabelSelector, RequiredContactPoints = c.RequiredContactPoints,
            SplitBrainResolver = c.SplitBrainResolver, StableAfter = c.StableAfter,
            TlsCertificate = c.TlsCertificate, TlsPasswordFile = c.TlsPasswordFile, Source = c.Source,
        };
    }
}

using System.Net;
using Concentrator.Cluster.Membership;

namespace Concentrator.Config;

/// <summary>
/// Builds a <see cref="ConcentratorConfig"/> section by section from a <see cref="YamlSection"/>, which reads the
/// values and names file, key path and line in every error. Defaults are the records' own. This file holds the
/// small sections (listen, http, tunnel, charon, cluster); ConfigLoader.Connections and ConfigLoader.Secrets the others.
/// </summary>
internal static partial class ConfigLoader
{
    internal const string FileKeyPath = "<file>";

    private static readonly string[] RootKeys = ["listen", "http", "tunnel", "charon", "cluster", PoolsKey, "connections", "secrets", IncludeKey, CrlsKey, AuthoritiesKey];
    private static readonly string[] ListenKeys = ["addresses", "ike_port", "natt_port"];
    private static readonly string[] HttpKeys = ["listen"];
    private static readonly string[] TunnelKeys = ["type", "device", "mtu", "workers", "install_routes", "plain_esp", "gro", "tso", "udp_gso", "udp_gro"];
    private static readonly string[] CharonKeys =
    [
        "retransmit_timeout", "retransmit_base", "retransmit_tries", "cookie_threshold", "cookie_threshold_ip", "init_limit_half_open",
        "block_threshold", "half_open_timeout", "init_limit_job_load", "init_limit_rate", "auth_failed_threshold", "auth_failed_backoff",
        "max_packet", "max_payloads", "ikesa_limit", "ikesa_limit_per_peer", "child_sa_limit", "acquire_queue", "admin_rate",
        "routing_table", "routing_table_prio", "fragment_size", "fragment_size_v4", "fragment_size_v6", "fragment_memory",
        "keep_alive", "plugins",
    ];
    private static readonly string[] ClusterKeys =
    [
        "hostname", "port", "seed_nodes", "discovery", "management_port", "kubernetes", "split_brain_resolver", "tls",
    ];
    private static readonly string[] ClusterKubernetesKeys = ["pod_label_selector", "required_contact_points"];
    private static readonly string[] ClusterTlsKeys = ["certificate", "password_file", "cacerts", "remote_id"];
    /// <param name="file">Named in errors and kept as <see cref="ConcentratorConfig.Source"/>.</param>
    public static ConcentratorConfig Parse(string yaml, string file)
    {
        var root = YamlSection.Root(file, yaml, RootKeys);
        var listen = ReadListen(root.Section("listen", ListenKeys));
        var secrets = ReadSecrets(root);
        var pools = ReadPools(root);
        var config = new ConcentratorConfig
        {
            Listen = listen,
            Http = ReadHttp(root.Section("http", HttpKeys)),
            Tunnel = ReadTunnel(root.Section("tunnel", TunnelKeys)),
            Charon = ReadCharon(root.Section("charon", CharonKeys)),
            Pools = pools,
            Connections = ReadConnections(root, listen, secrets.Keys, pools),
            Secrets = secrets.Ike,
            EapSecrets = secrets.Eap,
            Cluster = ReadCluster(root.Section("cluster", ClusterKeys)),
            Source = file,
            KeyValues = root.Flatten(maxValues: (int)Math.Min(int.MaxValue, 4L * yaml.Length + 1024)),
        };
        CheckEapRadius(root, config);
        CheckInterfaceDevices(root, config);
        return config;
    }

    private static ListenConfig ReadListen(YamlSection m)
    {
        var d = new ListenConfig();
        var addresses = new List<IPAddress>();
        var items = m.List("addresses");
        foreach (var item in items ?? [])
        {
            if (!IPAddress.TryParse(item.Value, out var ip))
            {
                throw m.Fail(item, $"'{item.Value}' is not an IP address");
            }
            addresses.Add(ip);
        }
        if (items is { Count: 0 })
        {
            throw m.Fail("addresses", "needs at least one address");
        }
        return new ListenConfig
        {
            Addresses = addresses.Count > 0 ? addresses : d.Addresses,
            IkePort = m.Int("ike_port", 0, 65535) ?? d.IkePort,
            NattPort = m.Int("natt_port", 0, 65535) ?? d.NattPort,
        };
    }

    private static HttpConfig ReadHttp(YamlSection m)
    {
        if (m.Scalar("listen") is not { } listen)
        {
            return new HttpConfig();
        }
        if (ConfigValues.TryHostPort(listen) is { } error)
        {
            throw m.Fail("listen", error);
        }
        return new HttpConfig { Listen = listen };
    }

    private static TunnelConfig ReadTunnel(YamlSection m)
    {
        var d = new TunnelConfig();
        var device = m.Scalar("device");
        if (device is not null && (device.Length == 0 || device.Length > TunnelConfig.MaxDeviceNameLength
                                   || device.Any(c => char.IsWhiteSpace(c) || c == '/')))
        {
            throw m.Fail("device", $"'{device}' is not an interface name (1..{TunnelConfig.MaxDeviceNameLength} characters, no '/' or spaces)");
        }
        return new TunnelConfig
        {
            Type = m.Choice("type", ["tun", "none"]) ?? d.Type,
            Device = device ?? d.Device,
            Mtu = m.Int("mtu", TunnelConfig.MinMtu, TunnelConfig.MaxMtu) ?? d.Mtu,
            Workers = m.Int("workers", 0, TunnelConfig.MaxWorkers) ?? d.Workers,
            InstallRoutes = m.Bool("install_routes") ?? d.InstallRoutes,
            PlainEsp = m.Bool("plain_esp") ?? d.PlainEsp,
            Gro = m.Bool("gro") ?? d.Gro,
            Tso = m.Bool("tso") ?? d.Tso,
            UdpGso = m.Bool("udp_gso") ?? d.UdpGso,
            UdpGro = m.Bool("udp_gro") ?? d.UdpGro,
        };
    }

    private const int UdpMaxPayload = 65535;

    private static CharonConfig ReadCharon(YamlSection m)
    {
        var d = new CharonConfig();
        // strongswan.conf gives retransmit_timeout as fractional seconds (1.5); a duration (4s) is accepted too.
        var timeout = m.Scalar("retransmit_timeout") is { } t && ConfigValues.TryNumber(t, out var seconds) is null
            ? TimeSpan.FromSeconds(Math.Clamp(seconds, 0, 86400))
            : m.Duration("retransmit_timeout") ?? d.RetransmitTimeout;
        if (timeout < TimeSpan.FromMilliseconds(100) || timeout > TimeSpan.FromMinutes(10))
        {
            throw m.Fail("retransmit_timeout", $"{timeout.TotalSeconds:0.###}s is out of range 0.1s..600s");
        }
        var table = m.Int("routing_table", 0, int.MaxValue);
        if (table is 0 or (>= 253 and <= 255))
        {
            throw m.Fail("routing_table", $"{table} is the kernel's {(table == 0 ? "unspecified" : table == 253 ? "default" : table == 254 ? "main" : "local")} " +
                                          "table; tunnel routes go into a table of their own (220 when not set)");
        }
        int halfOpen = m.Int("init_limit_half_open", 0, 1_000_000) ?? d.InitLimitHalfOpen;
        int maxPacket = m.Int("max_packet", CharonConfig.MinMaxPacket, UdpMaxPayload) ?? d.MaxPacket;
        int ikeSaLimit = m.Int("ikesa_limit", 0, 10_000_000) ?? d.IkeSaLimit;
        var halfOpenFragments = CharonConfig.HalfOpenFragmentMemory(halfOpen, ikeSaLimit, maxPacket);
        return new CharonConfig
        {
            RoutingTable = (uint?)table ?? d.RoutingTable,
            // The three rules must all come before the main table's rule at 32766.
            RoutingTablePrio = (uint?)m.Int("routing_table_prio", 1, 32763) ?? d.RoutingTablePrio,
            RetransmitTimeout = timeout,
            RetransmitBase = m.Number("retransmit_base", 1.0, 10.0) ?? d.RetransmitBase,
            RetransmitTries = m.Int("retransmit_tries", 0, CharonConfig.MaxRetransmitTries) ?? d.RetransmitTries,
            CookieThreshold = m.Int("cookie_threshold", 0, 1_000_000) ?? d.CookieThreshold,
            CookieThresholdIp = m.Int("cookie_threshold_ip", 0, 1_000_000) ?? d.CookieThresholdIp,
            InitLimitHalfOpen = halfOpen,
            BlockThreshold = m.Int("block_threshold", 0, 1_000_000) ?? d.BlockThreshold,
            HalfOpenTimeout = m.Duration("half_open_timeout", TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)) ?? d.HalfOpenTimeout,
            InitLimitJobLoad = m.Int("init_limit_job_load", 0, 1_000_000) ?? d.InitLimitJobLoad,
            InitLimitRate = m.Int("init_limit_rate", 0, 1_000_000) ?? d.InitLimitRate,
            AuthFailedThreshold = m.Int("auth_failed_threshold", 0, 1_000_000) ?? d.AuthFailedThreshold,
            AuthFailedBackoff = m.Duration("auth_failed_backoff", TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)) ?? d.AuthFailedBackoff,
            MaxPacket = maxPacket,
            MaxPayloads = m.Int("max_payloads", CharonConfig.MinMaxPayloads, 1024) ?? d.MaxPayloads,
            IkeSaLimit = ikeSaLimit,
            IkeSaLimitPerPeer = m.Int("ikesa_limit_per_peer", 0, 10_000_000) ?? d.IkeSaLimitPerPeer,
            ChildSaLimit = m.Int("child_sa_limit", 0, 100_000) ?? d.ChildSaLimit,
            AcquireQueue = m.Int("acquire_queue", 0, 100_000) ?? d.AcquireQueue,
            AdminRate = m.Int("admin_rate", 1, 100_000) ?? d.AdminRate,
            FragmentSize = FragmentSize(m, "fragment_size") ?? d.FragmentSize,
            FragmentSizeV4 = FragmentSize(m, "fragment_size_v4") ?? d.FragmentSizeV4,
            FragmentSizeV6 = FragmentSize(m, "fragment_size_v6") ?? d.FragmentSizeV6,
            FragmentMemory = FragmentMemory(m, halfOpenFragments),
            KeepAlive = m.Duration("keep_alive", TimeSpan.Zero, TimeSpan.FromHours(1)) ?? d.KeepAlive,
            EapRadius = ReadPlugins(m),
            IpsecMbLoad = ReadIpsecMbLoad(m),
        };
    }

    /// <summary>0 (strongSwan: the address family's default) or a datagram size an IPv4 host must accept and UDP can carry.</summary>
    private static int? FragmentSize(YamlSection m, string key)
    {
        var size = m.Int(key, 0, UdpMaxPayload);
        if (size is > 0 and < CharonConfig.MinFragmentSize)
        {
            throw m.Fail(key, $"{size} is below {CharonConfig.MinFragmentSize} (the datagram every IPv4 host accepts, RFC 791); use 0 for the address family's default");
        }
        return size;
    }

    /// <summary>
    /// fragment_memory, at least what the half-open SAs may hold (<paramref name="halfOpen"/>, null when nothing bounds
    /// them), so that peers that never finish IKE_AUTH cannot refuse every other peer's fragments; that is the default too.
    /// </summary>
    private static long FragmentMemory(YamlSection m, long? halfOpen)
    {
        var bytes = m.Bytes("fragment_memory");
        if (bytes is not { } b) return Math.Max(CharonConfig.MinFragmentMemory, halfOpen ?? CharonConfig.MaxFragmentMemory);
        if (b < CharonConfig.MinFragmentMemory || b > CharonConfig.MaxFragmentMemory)
        {
            throw m.Fail("fragment_memory", $"{b} is out of range {CharonConfig.MinFragmentMemory}..{CharonConfig.MaxFragmentMemory} bytes " +
                                            "(at least one reassembly of max_packet)");
        }
        if (halfOpen is { } floor && (long)b < floor)
        {
            throw m.Fail("fragment_memory", $"{b} is below {floor}, what half-open IKE SAs may hold (init_limit_half_open, or ikesa_limit when " +
                                            "that is 0, x 2 x max_packet): peers that never finish IKE_AUTH could refuse every other peer's " +
                                            "fragments; raise it or lower those");
        }
        return (long)b;
    }

    private static ClusterConfig ReadCluster(YamlSection m)
    {
        var d = new ClusterConfig();
        var hostname = m.Scalar("hostname");
        if (hostname is not null && !ClusterAddresses.IsHostname(hostname.Trim()))
        {
            throw m.Fail("hostname", $"'{hostname}' is not an IP address or DNS name");
        }
        var seeds = new List<string>();
        foreach (var item in m.List("seed_nodes") ?? [])
        {
            if (ClusterAddresses.TrySeedNode(item.Value) is { } error)
            {
                throw m.Fail(item, error);
            }
            seeds.Add(item.Value);
        }
        var discovery = m.Choice("discovery", ClusterConfig.Discoveries) ?? d.Discovery;
        if (discovery == "kubernetes" && seeds.Count > 0)
        {
            throw m.Fail("seed_nodes", "seed_nodes and discovery kubernetes exclude each other (bootstrap finds the seeds)");
        }
        var k8s = m.Section("kubernetes", ClusterKubernetesKeys);
        var selector = k8s.Scalar("pod_label_selector");
        if (selector is not null && selector.Trim().Length == 0)
        {
            throw k8s.Fail("pod_label_selector", "label selector is empty");
        }
        var tls = m.Section("tls", ClusterTlsKeys);
        var certificate = tls.ExistingFile("certificate");
        var passwordFile = tls.ExistingFile("password_file");
        var caCerts = tls.ExistingFiles("cacerts");
        var remoteId = tls.Scalar("remote_id")?.Trim() ?? "";
        foreach (var (key, set) in new[] { ("password_file", passwordFile.Length > 0), ("cacerts", caCerts.Count > 0), ("remote_id", remoteId.Length > 0) })
        {
            if (set && certificate.Length == 0) throw tls.Fail(key, "is set but tls.certificate is empty");
        }
        if (certificate.Length > 0)
        {
            if (caCerts.Count == 0)
            {
                throw tls.Fail("cacerts", "needs the CA certificates that issue the nodes' certificates (the only certificates trusted)");
            }
            if (remoteId.Length == 0)
            {
                throw tls.Fail("remote_id", "needs the name every node's certificate carries (e.g. *.concentrator-cluster.vpn.svc.cluster.local)");
            }
            if (ClusterPeerName.TryParse(remoteId, out var error) is null) throw tls.Fail("remote_id", error);
        }
        var cluster = new ClusterConfig
        {
            Hostname = hostname?.Trim() ?? d.Hostname,
            Port = m.Int("port", 0, 65535) ?? d.Port,
            SeedNodes = seeds,
            Discovery = discovery,
            ManagementPort = m.Int("management_port", 1, 65535) ?? d.ManagementPort,
            PodLabelSelector = selector?.Trim() ?? d.PodLabelSelector,
            RequiredContactPoints = k8s.Int("required_contact_points", 1, 1000) ?? d.RequiredContactPoints,
            SplitBrainResolver = m.Choice("split_brain_resolver", ClusterConfig.SplitBrainResolvers) ?? d.SplitBrainResolver,
            TlsCertificate = certificate,
            TlsPasswordFile = passwordFile,
            TlsCaCerts = caCerts,
            TlsRemoteId = remoteId,
            Source = m.Source,
        };
        return cluster.TrustProblem() is { } trust ? throw m.Fail(trust.Key, trust.Problem) : cluster;
    }
}

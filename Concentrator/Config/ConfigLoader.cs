using System.Net;
using Concentrator.Cluster;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Proposals;

namespace Concentrator.Config;

/// <summary>
/// Builds a <see cref="ConcentratorConfig"/> section by section from a <see cref="YamlSection"/>, which reads the
/// values and names file, key path and line in every error. Defaults are the records' own.
/// </summary>
internal static partial class ConfigLoader
{
    internal const string FileKeyPath = "<file>";

    private static readonly string[] RootKeys = ["listen", "http", "tunnel", "charon", "cluster", "connections", "secrets", IncludeKey];
    private static readonly string[] ListenKeys = ["addresses", "ike_port", "natt_port"];
    private static readonly string[] HttpKeys = ["listen"];
    private static readonly string[] TunnelKeys = ["type", "device", "mtu", "workers", "install_routes", "plain_esp", "gro"];
    private static readonly string[] CharonKeys =
    [
        "retransmit_timeout", "retransmit_base", "retransmit_tries", "cookie_threshold", "init_limit_half_open",
        "block_threshold", "half_open_timeout", "init_limit_job_load", "init_limit_rate", "auth_failed_threshold", "auth_failed_backoff",
        "max_packet", "max_payloads", "ikesa_limit", "ikesa_limit_per_peer", "child_sa_limit", "acquire_queue", "admin_rate",
    ];
    private static readonly string[] ClusterKeys =
    [
        "hostname", "port", "seed_nodes", "discovery", "management_port", "kubernetes", "split_brain_resolver", "tls",
    ];
    private static readonly string[] ClusterKubernetesKeys = ["pod_label_selector", "required_contact_points"];
    private static readonly string[] ClusterTlsKeys = ["certificate", "password_file"];
    private static readonly string[] ConnectionKeys =
    [
        "version", "local_addrs", "remote_addrs", "local_port", "remote_port", "proposals", "encap",
        "rekey_time", "reauth_time", "over_time", "rand_time", "dpd_delay", "dpd_timeout", "keyingtries",
        "unique", "send_certreq", "local", "remote", "children", WeakAlgorithms.ConfigKey,
    ];
    private static readonly string[] AuthKeys = ["auth", "id"];
    private static readonly string[] ChildKeys =
    [
        "local_ts", "remote_ts", "esp_proposals", "mode", "start_action", "dpd_action", "close_action",
        "rekey_time", "life_time", "rand_time", "rekey_bytes", "life_bytes", "rand_bytes",
        "rekey_packets", "life_packets", "rand_packets", "replay_window",
    ];

    /// <param name="file">Named in errors and kept as <see cref="ConcentratorConfig.Source"/>.</param>
    public static ConcentratorConfig Parse(string yaml, string file)
    {
        var root = YamlSection.Root(file, yaml, RootKeys);
        return new ConcentratorConfig
        {
            Listen = ReadListen(root.Section("listen", ListenKeys)),
            Http = ReadHttp(root.Section("http", HttpKeys)),
            Tunnel = ReadTunnel(root.Section("tunnel", TunnelKeys)),
            Charon = ReadCharon(root.Section("charon", CharonKeys)),
            Connections = ReadConnections(root),
            Secrets = ReadSecrets(root),
            Cluster = ReadCluster(root.Section("cluster", ClusterKeys)),
            Source = file,
        };
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
        return new CharonConfig
        {
            RetransmitTimeout = timeout,
            RetransmitBase = m.Number("retransmit_base", 1.0, 10.0) ?? d.RetransmitBase,
            RetransmitTries = m.Int("retransmit_tries", 0, CharonConfig.MaxRetransmitTries) ?? d.RetransmitTries,
            CookieThreshold = m.Int("cookie_threshold", 0, 1_000_000) ?? d.CookieThreshold,
            InitLimitHalfOpen = m.Int("init_limit_half_open", 0, 1_000_000) ?? d.InitLimitHalfOpen,
            BlockThreshold = m.Int("block_threshold", 0, 1_000_000) ?? d.BlockThreshold,
            HalfOpenTimeout = m.Duration("half_open_timeout", TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)) ?? d.HalfOpenTimeout,
            InitLimitJobLoad = m.Int("init_limit_job_load", 0, 1_000_000) ?? d.InitLimitJobLoad,
            InitLimitRate = m.Int("init_limit_rate", 0, 1_000_000) ?? d.InitLimitRate,
            AuthFailedThreshold = m.Int("auth_failed_threshold", 0, 1_000_000) ?? d.AuthFailedThreshold,
            AuthFailedBackoff = m.Duration("auth_failed_backoff", TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)) ?? d.AuthFailedBackoff,
            MaxPacket = m.Int("max_packet", CharonConfig.MinMaxPacket, UdpMaxPayload) ?? d.MaxPacket,
            MaxPayloads = m.Int("max_payloads", CharonConfig.MinMaxPayloads, 1024) ?? d.MaxPayloads,
            IkeSaLimit = m.Int("ikesa_limit", 0, 10_000_000) ?? d.IkeSaLimit,
            IkeSaLimitPerPeer = m.Int("ikesa_limit_per_peer", 0, 10_000_000) ?? d.IkeSaLimitPerPeer,
            ChildSaLimit = m.Int("child_sa_limit", 0, 100_000) ?? d.ChildSaLimit,
            AcquireQueue = m.Int("acquire_queue", 0, 100_000) ?? d.AcquireQueue,
            AdminRate = m.Int("admin_rate", 1, 100_000) ?? d.AdminRate,
        };
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
        if (passwordFile.Length > 0 && certificate.Length == 0)
        {
            throw tls.Fail("password_file", "is set but tls.certificate is empty");
        }
        return new ClusterConfig
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
            Source = m.Source,
        };
    }

    private static Dictionary<string, ConnectionConfig> ReadConnections(YamlSection root)
    {
        var result = new Dictionary<string, ConnectionConfig>(StringComparer.Ordinal);
        foreach (var (name, m) in root.Sections("connections", ConnectionKeys))
        {
            result[name] = ReadConnection(name, m);
        }
        return result;
    }

    private static ConnectionConfig ReadConnection(string name, YamlSection m)
    {
        var d = new ConnectionConfig();
        if (m.Int("version", 0, 255) is { } version && version != 2)
        {
            var why = version == 1 ? "IKEv1 not supported yet" : $"{version} is not supported; use 2 (IKEv2)";
            throw m.Fail("version", why);
        }

        var weakAllowed = m.Bool(WeakAlgorithms.ConfigKey) ?? d.WeakAlgorithms;
        var proposals = new List<IkeProposal>();
        var proposalItems = m.List("proposals");
        foreach (var item in proposalItems ?? [new YamlItem(ProposalParser.DefaultKeyword, m.PathOf("proposals"), null)])
        {
            if (!ProposalParser.TryExpandIke(item.Value, out var expanded, out var error))
            {
                throw m.Fail(item, error!);
            }
            foreach (var p in expanded)
            {
                if (!ReferenceEquals(expanded, ProposalParser.DefaultIke))
                {
                    if (WeakAlgorithms.FindBroken(p) is { } broken) throw m.Fail(item, WeakAlgorithms.BrokenRefusal(item.Value, broken));
                    if (!weakAllowed && WeakAlgorithms.Find(p) is { } weak) throw m.Fail(item, WeakAlgorithms.Refusal(item.Value, weak));
                }
                if (!ProposalSelector.IsUsable(p))
                {
                    throw m.Fail(item, $"proposal '{item.Value}' contains no combination of algorithms this build implements");
                }
            }
            proposals.AddRange(expanded);
        }
        if (proposalItems is { Count: 0 })
        {
            throw m.Fail("proposals", "needs at least one proposal (or 'default')");
        }

        var rekey = m.Duration("rekey_time") ?? d.RekeyTime;
        var reauth = m.Duration("reauth_time") ?? d.ReauthTime;
        var over = m.Duration("over_time") ?? TimeSpan.FromTicks(Math.Max(rekey.Ticks, reauth.Ticks) / 10);
        // rand_time is subtracted from rekey_time and reauth_time; above either it would wrap
        // strongSwan's unsigned arithmetic. An explicit value that large is an error, the default
        // (over_time) is capped at the smaller limit.
        var limits = new[] { ("rekey_time", rekey), ("reauth_time", reauth) }.Where(l => l.Item2 > TimeSpan.Zero).ToList();
        var randGiven = m.Duration("rand_time");
        foreach (var (key, limit) in limits)
        {
            if (randGiven > limit)
            {
                throw m.Fail("rand_time", $"rand_time {Fmt(randGiven.Value)} must not exceed {key} {Fmt(limit)}");
            }
        }
        var rand = randGiven ?? (limits.Count == 0 ? over : TimeSpan.FromTicks(Math.Min(over.Ticks, limits.Min(l => l.Item2.Ticks))));

        var unique = m.Choice("unique", ["no", "never", "keep", "replace"]) ?? d.Unique;

        return new ConnectionConfig
        {
            Name = name,
            Version = 2,
            LocalAddrs = Addrs(m, "local_addrs") ?? d.LocalAddrs,
            RemoteAddrs = Addrs(m, "remote_addrs") ?? d.RemoteAddrs,
            LocalPort = m.Int("local_port", 0, 65535),
            RemotePort = m.Int("remote_port", 0, 65535),
            Proposals = proposals,
            Encap = m.Bool("encap") ?? d.Encap,
            RekeyTime = rekey,
            ReauthTime = reauth,
            OverTime = over,
            RandTime = rand,
            DpdDelay = m.Duration("dpd_delay") ?? d.DpdDelay,
            DpdTimeout = m.Duration("dpd_timeout") ?? d.DpdTimeout,
            KeyingTries = m.Int("keyingtries", 0, int.MaxValue) ?? d.KeyingTries,
            Unique = unique,
            SendCertReq = m.Bool("send_certreq") ?? d.SendCertReq,
            Local = ReadAuth(m.Section("local", AuthKeys)),
            Remote = ReadAuth(m.Section("remote", AuthKeys)),
            WeakAlgorithms = weakAllowed,
            Children = ReadChildren(m, weakAllowed),
        };
    }

    private static AuthConfig ReadAuth(YamlSection m)
    {
        var d = new AuthConfig();
        var auth = m.Scalar("auth");
        var method = auth?.ToLowerInvariant();
        if (method is not null && !(method is "psk" or "pubkey" or "eap" || (method.StartsWith("eap-", StringComparison.Ordinal) && method.Length > 4)))
        {
            throw m.Fail("auth", $"'{auth}' is not an auth method (psk, pubkey, eap or eap-<method>)");
        }
        var id = m.Scalar("id");
        if (id is not null && id.Trim().Length == 0)
        {
            throw m.Fail("id", "identity is empty (use %any to accept any)");
        }
        return new AuthConfig
        {
            Auth = method ?? d.Auth,
            Id = id?.Trim() ?? d.Id,
        };
    }

    private static Dictionary<string, ChildConfig> ReadChildren(YamlSection connection, bool weakAllowed)
    {
        var result = new Dictionary<string, ChildConfig>(StringComparer.Ordinal);
        foreach (var (name, m) in connection.Sections("children", ChildKeys))
        {
            result[name] = ReadChild(name, m, weakAllowed);
        }
        return result;
    }

    private static ChildConfig ReadChild(string name, YamlSection m, bool weakAllowed)
    {
        var d = new ChildConfig();

        var esp = new List<EspProposal>();
        var espItems = m.List("esp_proposals");
        foreach (var item in espItems ?? [new YamlItem(ProposalParser.DefaultKeyword, m.PathOf("esp_proposals"), null)])
        {
            if (!ProposalParser.TryExpandEsp(item.Value, out var expanded, out var error))
            {
                throw m.Fail(item, error!);
            }
            foreach (var p in expanded)
            {
                if (!ReferenceEquals(expanded, ProposalParser.DefaultEsp))
                {
                    if (WeakAlgorithms.FindBroken(p) is { } broken) throw m.Fail(item, WeakAlgorithms.BrokenRefusal(item.Value, broken));
                    if (!weakAllowed && WeakAlgorithms.Find(p) is { } weak) throw m.Fail(item, WeakAlgorithms.Refusal(item.Value, weak));
                }
                if (!ProposalSelector.IsUsable(p))
                {
                    throw m.Fail(item, $"proposal '{item.Value}' contains no combination of algorithms this build implements");
                }
            }
            esp.AddRange(expanded);
        }
        if (espItems is { Count: 0 })
        {
            throw m.Fail("esp_proposals", "needs at least one proposal (or 'default')");
        }

        var mode = m.Choice("mode", ["tunnel", "transport"], ["beet", "pass", "drop"]) ?? d.Mode;

        var rekey = m.Duration("rekey_time") ?? d.RekeyTime;
        var lifeGiven = m.Duration("life_time");
        if (lifeGiven is { } lg && lg > TimeSpan.Zero && rekey > TimeSpan.Zero && lg < rekey)
        {
            throw m.Fail("life_time", $"life_time {Fmt(lg)} is shorter than rekey_time {Fmt(rekey)}");
        }
        var life = lifeGiven ?? TimeSpan.FromTicks(rekey.Ticks / 100 * 110);
        // As for IKE: rand_time above rekey_time would wrap; explicit is an error, the default is capped.
        var randGiven = m.Duration("rand_time");
        if (randGiven is { } rg && rekey > TimeSpan.Zero && rg > rekey)
        {
            throw m.Fail("rand_time", $"rand_time {Fmt(rg)} must not exceed rekey_time {Fmt(rekey)}");
        }
        var randDefault = life > rekey ? life - rekey : TimeSpan.Zero;
        var rand = randGiven ?? (rekey > TimeSpan.Zero && randDefault > rekey ? rekey : randDefault);

        var (rekeyBytes, lifeBytes, randBytes) = Volume(m, "bytes", m.Bytes);
        var (rekeyPackets, lifePackets, randPackets) = Volume(m, "packets", m.Packets);

        return new ChildConfig
        {
            Name = name,
            LocalTs = Selectors(m, "local_ts"),
            RemoteTs = Selectors(m, "remote_ts"),
            EspProposals = esp,
            Mode = mode,
            StartAction = m.Choice("start_action", ["none", "trap", "start"]) ?? d.StartAction,
            DpdAction = m.Choice("dpd_action", ["clear", "trap", "restart"]) ?? d.DpdAction,
            CloseAction = m.Choice("close_action", ["none", "trap", "start"]) ?? d.CloseAction,
            RekeyTime = rekey,
            LifeTime = life,
            RandTime = rand,
            RekeyBytes = rekeyBytes,
            LifeBytes = lifeBytes,
            RandBytes = randBytes,
            RekeyPackets = rekeyPackets,
            LifePackets = lifePackets,
            RandPackets = randPackets,
            ReplayWindow = m.Int("replay_window", 0, ChildConfig.MaxReplayWindow) ?? d.ReplayWindow,
        };
    }

    /// <summary>rekey_X / life_X / rand_X with swanctl defaults: life = rekey + 10%, rand = life - rekey.</summary>
    private static (ulong Rekey, ulong Life, ulong Rand) Volume(YamlSection m, string unit, Func<string, ulong?> read)
    {
        var rekey = read($"rekey_{unit}") ?? 0;
        var lifeGiven = read($"life_{unit}");
        if (lifeGiven is { } lg && lg > 0 && rekey > 0 && lg < rekey)
        {
            throw m.Fail($"life_{unit}", $"life_{unit} {lg} is below rekey_{unit} {rekey}");
        }
        var life = lifeGiven ?? (rekey > ulong.MaxValue / 110 ? rekey : rekey * 110 / 100);
        var rand = read($"rand_{unit}") ?? (life > rekey ? life - rekey : 0);
        return (rekey, life, rand);
    }

    private static List<TrafficSelectorSpec> Selectors(YamlSection m, string key)
    {
        var items = m.List(key);
        if (items is null)
        {
            TrafficSelectorSpec.TryParse(TrafficSelectorSpec.DynamicKeyword, out var dynamic, out _);
            return [dynamic!];
        }
        if (items.Count == 0)
        {
            throw m.Fail(key, "needs at least one traffic selector (or 'dynamic')");
        }
        var result = new List<TrafficSelectorSpec>();
        foreach (var item in items)
        {
            if (!TrafficSelectorSpec.TryParse(item.Value, out var spec, out var error))
            {
                throw m.Fail(item, error!);
            }
            result.Add(spec!);
        }
        return result;
    }

    private static List<string>? Addrs(YamlSection m, string key)
    {
        var items = m.List(key);
        if (items is null)
        {
            return null;
        }
        if (items.Count == 0)
        {
            throw m.Fail(key, "needs at least one address (or %any)");
        }
        foreach (var item in items)
        {
            if (ConfigValues.TryAddressSpec(item.Value) is { } error)
            {
                throw m.Fail(item, error);
            }
        }
        return items.Select(i => i.Value).ToList();
    }

    private static List<SecretConfig> ReadSecrets(YamlSection root)
    {
        var result = new List<SecretConfig>();
        foreach (var (name, m) in root.Sections("secrets", k => k == "secret" || k.StartsWith("id", StringComparison.Ordinal)))
        {
            var ids = new List<string>();
            foreach (var key in m.Keys.Where(k => k.StartsWith("id", StringComparison.Ordinal)))
            {
                ids.AddRange(m.UnsplitList(key, "identity must be a non-empty string"));
            }
            var secret = m.Scalar("secret") ?? throw m.Fail("secret", "missing (every secret needs 'secret')");
            if (ConfigValues.TrySecret(secret, out var bytes) is { } error)
            {
                throw m.Fail("secret", error);
            }
            result.Add(new SecretConfig { Name = name, Ids = ids, Secret = bytes });
        }
        return WithIncludedSecrets(result, root);
    }

    private static string Fmt(TimeSpan t) => $"{(long)t.TotalSeconds}s";
}

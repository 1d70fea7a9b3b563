using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Proposals;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using Concentrator.Ike.Connections;
using Concentrator.Cluster.Membership;

namespace Concentrator.Config;

/// <summary>
/// Builds a <see cref="ConcentratorConfig"/> from the YAML representation model so every error can
/// name its key path and line. Unknown keys are errors. Lists may be YAML sequences or
/// comma-separated strings. Value syntax is swanctl's (<see cref="ConfigValues"/>).
/// </summary>
internal sealed partial class ConfigLoader(string file)
{
    internal const string FileKeyPath = "<file>";
    internal const string YamlKeyPath = "<yaml>";
    internal const string RootKeyPath = "<root>";

    private static readonly string[] RootKeys = ["listen", "http", "tunnel", "charon", "cluster", "connections", "secrets", "include"];
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

    /// <summary>The root node of a one-document YAML text (null when empty); malformed YAML is a ConfigException.</summary>
    private YamlNode? LoadRootNode(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new ConfigException(file, YamlKeyPath, $"invalid YAML: {Innermost(e).Message} (line {e.Start.Line})");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these instead of a YamlException on some malformed input (found by fuzzing,
            // Concentrator.Fuzz/crashes/config); it is still a bad file, not a crash.
            throw new ConfigException(file, YamlKeyPath, $"invalid YAML: {e.Message}");
        }
        if (stream.Documents.Count > 1)
        {
            throw Fail(RootKeyPath, "more than one YAML document", stream.Documents[1].RootNode);
        }
        return stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
    }

    public ConcentratorConfig Parse(string yaml)
    {
        var rootNode = LoadRootNode(yaml);
        var root = Section("", rootNode, RootKeyPath, RootKeys);

        return new ConcentratorConfig
        {
            Listen = ReadListen(Section("listen", root.Get("listen"), "listen", ListenKeys)),
            Http = ReadHttp(Section("http", root.Get("http"), "http", HttpKeys)),
            Tunnel = ReadTunnel(Section("tunnel", root.Get("tunnel"), "tunnel", TunnelKeys)),
            Charon = ReadCharon(Section("charon", root.Get("charon"), "charon", CharonKeys)),
            Connections = ReadConnections(root),
            Secrets = ReadSecrets(root),
            Cluster = ReadCluster(Section("cluster", root.Get("cluster"), "cluster", ClusterKeys)),
            Source = file,
        };
    }

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    // ---- sections ---------------------------------------------------------------------------

    private ListenConfig ReadListen(Map m)
    {
        var d = new ListenConfig();
        var addresses = new List<IPAddress>();
        foreach (var item in List(m, "addresses") ?? [])
        {
            if (!IPAddress.TryParse(item.Value, out var ip))
            {
                throw Fail(item.Path, $"'{item.Value}' is not an IP address", item.Node);
            }
            addresses.Add(ip);
        }
        if (m.Has("addresses") && addresses.Count == 0)
        {
            throw Fail(m.PathOf("addresses"), "needs at least one address", m.Get("addresses"));
        }
        return new ListenConfig
        {
            Addresses = addresses.Count > 0 ? addresses : d.Addresses,
            IkePort = (int)(Int(m, "ike_port", 0, 65535) ?? d.IkePort),
            NattPort = (int)(Int(m, "natt_port", 0, 65535) ?? d.NattPort),
        };
    }

    private HttpConfig ReadHttp(Map m)
    {
        var listen = Scalar(m, "listen");
        if (listen is null)
        {
            return new HttpConfig();
        }
        if (!TrySplitHostPort(listen.Value.Value, out _, out _))
        {
            throw Fail(m.PathOf("listen"), $"'{listen.Value.Value}' is not host:port (e.g. 127.0.0.1:9400 or [::1]:9400)", listen.Value.Node);
        }
        return new HttpConfig { Listen = listen.Value.Value };
    }

    private TunnelConfig ReadTunnel(Map m)
    {
        var d = new TunnelConfig();
        var device = Scalar(m, "device");
        if (device is { } dev && (dev.Value.Length == 0 || dev.Value.Length > TunnelConfig.MaxDeviceNameLength
                                   || dev.Value.Any(c => char.IsWhiteSpace(c) || c == '/')))
        {
            throw Fail(m.PathOf("device"), $"'{dev.Value}' is not an interface name (1..{TunnelConfig.MaxDeviceNameLength} characters, no '/' or spaces)", dev.Node);
        }
        return new TunnelConfig
        {
            Type = Choice(m, "type", ["tun", "none"]) ?? d.Type,
            Device = device?.Value ?? d.Device,
            Mtu = (int)(Int(m, "mtu", TunnelConfig.MinMtu, TunnelConfig.MaxMtu) ?? d.Mtu),
            Workers = (int)(Int(m, "workers", 0, TunnelConfig.MaxWorkers) ?? d.Workers),
            InstallRoutes = Bool(m, "install_routes") ?? d.InstallRoutes,
            PlainEsp = Bool(m, "plain_esp") ?? d.PlainEsp,
            Gro = Bool(m, "gro") ?? d.Gro,
        };
    }

    private const int UdpMaxPayload = 65535;

    private CharonConfig ReadCharon(Map m)
    {
        var d = new CharonConfig();
        // strongswan.conf gives retransmit_timeout as fractional seconds (1.5); a duration (4s) is accepted too.
        var timeout = Scalar(m, "retransmit_timeout") is { } t &&
                      double.TryParse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds)
            ? TimeSpan.FromSeconds(Math.Clamp(seconds, 0, 86400))
            : Duration(m, "retransmit_timeout") ?? d.RetransmitTimeout;
        if (timeout < TimeSpan.FromMilliseconds(100) || timeout > TimeSpan.FromMinutes(10))
        {
            throw Fail(m.PathOf("retransmit_timeout"), $"{timeout.TotalSeconds:0.###}s is out of range 0.1s..600s", m.Get("retransmit_timeout"));
        }
        return new CharonConfig
        {
            RetransmitTimeout = timeout,
            RetransmitBase = Double(m, "retransmit_base", 1.0, 10.0) ?? d.RetransmitBase,
            RetransmitTries = (int)(Int(m, "retransmit_tries", 0, CharonConfig.MaxRetransmitTries) ?? d.RetransmitTries),
            CookieThreshold = (int)(Int(m, "cookie_threshold", 0, 1_000_000) ?? d.CookieThreshold),
            InitLimitHalfOpen = (int)(Int(m, "init_limit_half_open", 0, 1_000_000) ?? d.InitLimitHalfOpen),
            BlockThreshold = (int)(Int(m, "block_threshold", 0, 1_000_000) ?? d.BlockThreshold),
            HalfOpenTimeout = DurationIn(m, "half_open_timeout", TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)) ?? d.HalfOpenTimeout,
            InitLimitJobLoad = (int)(Int(m, "init_limit_job_load", 0, 1_000_000) ?? d.InitLimitJobLoad),
            InitLimitRate = (int)(Int(m, "init_limit_rate", 0, 1_000_000) ?? d.InitLimitRate),
            AuthFailedThreshold = (int)(Int(m, "auth_failed_threshold", 0, 1_000_000) ?? d.AuthFailedThreshold),
            AuthFailedBackoff = DurationIn(m, "auth_failed_backoff", TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)) ?? d.AuthFailedBackoff,
            MaxPacket = (int)(Int(m, "max_packet", CharonConfig.MinMaxPacket, UdpMaxPayload) ?? d.MaxPacket),
            MaxPayloads = (int)(Int(m, "max_payloads", CharonConfig.MinMaxPayloads, 1024) ?? d.MaxPayloads),
            IkeSaLimit = (int)(Int(m, "ikesa_limit", 0, 10_000_000) ?? d.IkeSaLimit),
            IkeSaLimitPerPeer = (int)(Int(m, "ikesa_limit_per_peer", 0, 10_000_000) ?? d.IkeSaLimitPerPeer),
            ChildSaLimit = (int)(Int(m, "child_sa_limit", 0, 100_000) ?? d.ChildSaLimit),
            AcquireQueue = (int)(Int(m, "acquire_queue", 0, 100_000) ?? d.AcquireQueue),
            AdminRate = (int)(Int(m, "admin_rate", 1, 100_000) ?? d.AdminRate),
        };
    }

    private ClusterConfig ReadCluster(Map m)
    {
        var d = new ClusterConfig();
        var hostname = Scalar(m, "hostname");
        if (hostname is { } h && !ClusterAddresses.IsHostname(h.Value.Trim()))
        {
            throw Fail(m.PathOf("hostname"), $"'{h.Value}' is not an IP address or DNS name", h.Node);
        }
        var seeds = new List<string>();
        foreach (var item in List(m, "seed_nodes") ?? [])
        {
            var error = ClusterAddresses.TrySeedNode(item.Value);
            if (error is not null) throw Fail(item.Path, error, item.Node);
            seeds.Add(item.Value);
        }
        var discovery = Choice(m, "discovery", ClusterConfig.Discoveries) ?? d.Discovery;
        if (discovery == "kubernetes" && seeds.Count > 0)
        {
            throw Fail(m.PathOf("seed_nodes"), "seed_nodes and discovery kubernetes exclude each other (bootstrap finds the seeds)", m.Get("seed_nodes"));
        }
        var k8s = Section(m.PathOf("kubernetes"), m.Get("kubernetes"), m.PathOf("kubernetes"), ClusterKubernetesKeys);
        var selector = Scalar(k8s, "pod_label_selector");
        if (selector is { } sel && sel.Value.Trim().Length == 0)
        {
            throw Fail(k8s.PathOf("pod_label_selector"), "label selector is empty", sel.Node);
        }
        var tls = Section(m.PathOf("tls"), m.Get("tls"), m.PathOf("tls"), ClusterTlsKeys);
        var certificate = ExistingFile(tls, "certificate");
        var passwordFile = ExistingFile(tls, "password_file");
        if (passwordFile.Length > 0 && certificate.Length == 0)
        {
            throw Fail(tls.PathOf("password_file"), "is set but tls.certificate is empty", tls.Get("password_file"));
        }
        return new ClusterConfig
        {
            Hostname = hostname?.Value.Trim() ?? d.Hostname,
            Port = (int)(Int(m, "port", 0, 65535) ?? d.Port),
            SeedNodes = seeds,
            Discovery = discovery,
            ManagementPort = (int)(Int(m, "management_port", 1, 65535) ?? d.ManagementPort),
            PodLabelSelector = selector?.Value.Trim() ?? d.PodLabelSelector,
            RequiredContactPoints = (int)(Int(k8s, "required_contact_points", 1, 1000) ?? d.RequiredContactPoints),
            SplitBrainResolver = Choice(m, "split_brain_resolver", ClusterConfig.SplitBrainResolvers) ?? d.SplitBrainResolver,
            TlsCertificate = certificate,
            TlsPasswordFile = passwordFile,
            Source = file,
        };
    }

    /// <summary>A file path relative to the config file's directory; "" when absent or empty; an error when the file is missing.</summary>
    private string ExistingFile(Map m, string key)
    {
        var node = m.Get(key);
        if (node is YamlScalarNode { Value: null or "" }) return "";
        if (Scalar(m, key) is not { } s || s.Value.Trim().Length == 0) return "";
        var path = s.Value.Trim();
        if (!Path.IsPathRooted(path) && Path.GetDirectoryName(Path.GetFullPath(file)) is { } dir && File.Exists(file))
        {
            path = Path.Combine(dir, path);
        }
        return File.Exists(path) ? path : throw Fail(m.PathOf(key), $"file '{s.Value}' not found", s.Node);
    }

    private Dictionary<string, ConnectionConfig> ReadConnections(Map root)
    {
        var result = new Dictionary<string, ConnectionConfig>(StringComparer.Ordinal);
        foreach (var (name, node) in Entries(root, "connections"))
        {
            var path = $"connections.{name}";
            result[name] = ReadConnection(name, Section(path, node, path, ConnectionKeys));
        }
        return result;
    }

    private ConnectionConfig ReadConnection(string name, Map m)
    {
        var d = new ConnectionConfig();
        if (Int(m, "version", 0, 255) is { } version && version != 2)
        {
            var why = version == 1 ? "IKEv1 not supported yet" : $"{version} is not supported; use 2 (IKEv2)";
            throw Fail(m.PathOf("version"), why, m.Get("version"));
        }

        var weakAllowed = Bool(m, WeakAlgorithms.ConfigKey) ?? d.WeakAlgorithms;
        var proposals = new List<IkeProposal>();
        var proposalItems = List(m, "proposals");
        foreach (var item in proposalItems ?? [(ProposalParser.DefaultKeyword, m.PathOf("proposals"), null)])
        {
            if (!ProposalParser.TryExpandIke(item.Value, out var expanded, out var error))
            {
                throw Fail(item.Path, error!, item.Node);
            }
            foreach (var p in expanded)
            {
                if (!ReferenceEquals(expanded, ProposalParser.DefaultIke))
                {
                    if (WeakAlgorithms.FindBroken(p) is { } broken) throw Fail(item.Path, WeakAlgorithms.BrokenRefusal(item.Value, broken), item.Node);
                    if (!weakAllowed && WeakAlgorithms.Find(p) is { } weak) throw Fail(item.Path, WeakAlgorithms.Refusal(item.Value, weak), item.Node);
                }
                if (!ProposalSelector.IsUsable(p))
                {
                    throw Fail(item.Path, $"proposal '{item.Value}' contains no combination of algorithms this build implements", item.Node);
                }
            }
            proposals.AddRange(expanded);
        }
        if (proposalItems is { Count: 0 })
        {
            throw Fail(m.PathOf("proposals"), "needs at least one proposal (or 'default')", m.Get("proposals"));
        }

        var rekey = Duration(m, "rekey_time") ?? d.RekeyTime;
        var reauth = Duration(m, "reauth_time") ?? d.ReauthTime;
        var over = Duration(m, "over_time") ?? TimeSpan.FromTicks(Math.Max(rekey.Ticks, reauth.Ticks) / 10);
        // rand_time is subtracted from rekey_time and reauth_time; above either it would wrap
        // strongSwan's unsigned arithmetic. An explicit value that large is an error, the default
        // (over_time) is capped at the smaller limit.
        var limits = new[] { ("rekey_time", rekey), ("reauth_time", reauth) }.Where(l => l.Item2 > TimeSpan.Zero).ToList();
        var randGiven = Duration(m, "rand_time");
        foreach (var (key, limit) in limits)
        {
            if (randGiven > limit)
            {
                throw Fail(m.PathOf("rand_time"), $"rand_time {Fmt(randGiven.Value)} must not exceed {key} {Fmt(limit)}", m.Get("rand_time"));
            }
        }
        var rand = randGiven ?? (limits.Count == 0 ? over : TimeSpan.FromTicks(Math.Min(over.Ticks, limits.Min(l => l.Item2.Ticks))));

        var unique = Choice(m, "unique", ["no", "never", "keep", "replace"]) ?? d.Unique;

        return new ConnectionConfig
        {
            Name = name,
            Version = 2,
            LocalAddrs = Addrs(m, "local_addrs") ?? d.LocalAddrs,
            RemoteAddrs = Addrs(m, "remote_addrs") ?? d.RemoteAddrs,
            LocalPort = (int?)Int(m, "local_port", 0, 65535),
            RemotePort = (int?)Int(m, "remote_port", 0, 65535),
            Proposals = proposals,
            Encap = Bool(m, "encap") ?? d.Encap,
            RekeyTime = rekey,
            ReauthTime = reauth,
            OverTime = over,
            RandTime = rand,
            DpdDelay = Duration(m, "dpd_delay") ?? d.DpdDelay,
            DpdTimeout = Duration(m, "dpd_timeout") ?? d.DpdTimeout,
            KeyingTries = (int)(Int(m, "keyingtries", 0, int.MaxValue) ?? d.KeyingTries),
            Unique = unique,
            SendCertReq = Bool(m, "send_certreq") ?? d.SendCertReq,
            Local = ReadAuth(Section(m.PathOf("local"), m.Get("local"), m.PathOf("local"), AuthKeys)),
            Remote = ReadAuth(Section(m.PathOf("remote"), m.Get("remote"), m.PathOf("remote"), AuthKeys)),
            WeakAlgorithms = weakAllowed,
            Children = ReadChildren(m, weakAllowed),
        };
    }

    private AuthConfig ReadAuth(Map m)
    {
        var d = new AuthConfig();
        var auth = Scalar(m, "auth");
        if (auth is { } a)
        {
            var v = a.Value.ToLowerInvariant();
            var ok = v is "psk" or "pubkey" or "eap" || (v.StartsWith("eap-", StringComparison.Ordinal) && v.Length > 4);
            if (!ok)
            {
                throw Fail(m.PathOf("auth"), $"'{a.Value}' is not an auth method (psk, pubkey, eap or eap-<method>)", a.Node);
            }
        }
        var id = Scalar(m, "id");
        if (id is { } i && i.Value.Trim().Length == 0)
        {
            throw Fail(m.PathOf("id"), "identity is empty (use %any to accept any)", i.Node);
        }
        return new AuthConfig
        {
            Auth = auth?.Value.ToLowerInvariant() ?? d.Auth,
            Id = id?.Value.Trim() ?? d.Id,
        };
    }

    private Dictionary<string, ChildConfig> ReadChildren(Map conn, bool weakAllowed)
    {
        var result = new Dictionary<string, ChildConfig>(StringComparer.Ordinal);
        foreach (var (name, node) in Entries(conn, "children"))
        {
            var path = $"{conn.Path}.children.{name}";
            result[name] = ReadChild(name, Section(path, node, path, ChildKeys), weakAllowed);
        }
        return result;
    }

    private ChildConfig ReadChild(string name, Map m, bool weakAllowed)
    {
        var d = new ChildConfig();

        var esp = new List<EspProposal>();
        var espItems = List(m, "esp_proposals");
        foreach (var item in espItems ?? [(ProposalParser.DefaultKeyword, m.PathOf("esp_proposals"), null)])
        {
            if (!ProposalParser.TryExpandEsp(item.Value, out var expanded, out var error))
            {
                throw Fail(item.Path, error!, item.Node);
            }
            foreach (var p in expanded)
            {
                if (!ReferenceEquals(expanded, ProposalParser.DefaultEsp))
                {
                    if (WeakAlgorithms.FindBroken(p) is { } broken) throw Fail(item.Path, WeakAlgorithms.BrokenRefusal(item.Value, broken), item.Node);
                    if (!weakAllowed && WeakAlgorithms.Find(p) is { } weak) throw Fail(item.Path, WeakAlgorithms.Refusal(item.Value, weak), item.Node);
                }
                if (!ProposalSelector.IsUsable(p))
                {
                    throw Fail(item.Path, $"proposal '{item.Value}' contains no combination of algorithms this build implements", item.Node);
                }
            }
            esp.AddRange(expanded);
        }
        if (espItems is { Count: 0 })
        {
            throw Fail(m.PathOf("esp_proposals"), "needs at least one proposal (or 'default')", m.Get("esp_proposals"));
        }

        var mode = Choice(m, "mode", ["tunnel", "transport"], ["beet", "pass", "drop"]) ?? d.Mode;

        var rekey = Duration(m, "rekey_time") ?? d.RekeyTime;
        var lifeGiven = Duration(m, "life_time");
        if (lifeGiven is { } lg && lg > TimeSpan.Zero && rekey > TimeSpan.Zero && lg < rekey)
        {
            throw Fail(m.PathOf("life_time"), $"life_time {Fmt(lg)} is shorter than rekey_time {Fmt(rekey)}", m.Get("life_time"));
        }
        var life = lifeGiven ?? TimeSpan.FromTicks(rekey.Ticks / 100 * 110);
        // As for IKE: rand_time above rekey_time would wrap; explicit is an error, the default is capped.
        var randGiven = Duration(m, "rand_time");
        if (randGiven is { } rg && rekey > TimeSpan.Zero && rg > rekey)
        {
            throw Fail(m.PathOf("rand_time"), $"rand_time {Fmt(rg)} must not exceed rekey_time {Fmt(rekey)}", m.Get("rand_time"));
        }
        var randDefault = life > rekey ? life - rekey : TimeSpan.Zero;
        var rand = randGiven ?? (rekey > TimeSpan.Zero && randDefault > rekey ? rekey : randDefault);

        var (rekeyBytes, lifeBytes, randBytes) = Volume(m, "bytes", ConfigValues.TryBytes);
        var (rekeyPackets, lifePackets, randPackets) = Volume(m, "packets", ConfigValues.TryPackets);

        return new ChildConfig
        {
            Name = name,
            LocalTs = Selectors(m, "local_ts"),
            RemoteTs = Selectors(m, "remote_ts"),
            EspProposals = esp,
            Mode = mode,
            StartAction = Choice(m, "start_action", ["none", "trap", "start"]) ?? d.StartAction,
            DpdAction = Choice(m, "dpd_action", ["clear", "trap", "restart"]) ?? d.DpdAction,
            CloseAction = Choice(m, "close_action", ["none", "trap", "start"]) ?? d.CloseAction,
            RekeyTime = rekey,
            LifeTime = life,
            RandTime = rand,
            RekeyBytes = rekeyBytes,
            LifeBytes = lifeBytes,
            RandBytes = randBytes,
            RekeyPackets = rekeyPackets,
            LifePackets = lifePackets,
            RandPackets = randPackets,
            ReplayWindow = (int)(Int(m, "replay_window", 0, ChildConfig.MaxReplayWindow) ?? d.ReplayWindow),
        };
    }

    private delegate string? VolumeParser(string text, out ulong value);

    /// <summary>rekey_X / life_X / rand_X with swanctl defaults: life = rekey + 10%, rand = life - rekey.</summary>
    private (ulong Rekey, ulong Life, ulong Rand) Volume(Map m, string unit, VolumeParser parse)
    {
        ulong? Read(string key)
        {
            if (Scalar(m, key) is not { } s)
            {
                return null;
            }
            var error = parse(s.Value, out var v);
            return error is null ? v : throw Fail(m.PathOf(key), error, s.Node);
        }
        var rekey = Read($"rekey_{unit}") ?? 0;
        var lifeGiven = Read($"life_{unit}");
        if (lifeGiven is { } lg && lg > 0 && rekey > 0 && lg < rekey)
        {
            throw Fail(m.PathOf($"life_{unit}"), $"life_{unit} {lg} is below rekey_{unit} {rekey}", m.Get($"life_{unit}"));
        }
        var life = lifeGiven ?? (rekey > ulong.MaxValue / 110 ? rekey : rekey * 110 / 100);
        var rand = Read($"rand_{unit}") ?? (life > rekey ? life - rekey : 0);
        return (rekey, life, rand);
    }

    private List<TrafficSelectorSpec> Selectors(Map m, string key)
    {
        var items = List(m, key);
        if (items is null)
        {
            TrafficSelectorSpec.TryParse(TrafficSelectorSpec.DynamicKeyword, out var dynamic, out _);
            return [dynamic!];
        }
        if (items.Count == 0)
        {
            throw Fail(m.PathOf(key), "needs at least one traffic selector (or 'dynamic')", m.Get(key));
        }
        var result = new List<TrafficSelectorSpec>();
        foreach (var item in items)
        {
            if (!TrafficSelectorSpec.TryParse(item.Value, out var spec, out var error))
            {
                throw Fail(item.Path, error!, item.Node);
            }
            result.Add(spec!);
        }
        return result;
    }

    private List<string>? Addrs(Map m, string key)
    {
        var items = List(m, key);
        if (items is null)
        {
            return null;
        }
        if (items.Count == 0)
        {
            throw Fail(m.PathOf(key), "needs at least one address (or %any)", m.Get(key));
        }
        foreach (var item in items)
        {
            if (!IsAddressSpec(item.Value))
            {
                throw Fail(item.Path, $"'{item.Value}' is not an address, subnet, range, DNS name or %any", item.Node);
            }
        }
        return items.Select(i => i.Value).ToList();
    }

    /// <summary>swanctl local_addrs/remote_addrs entries: IP, CIDR, range, DNS name, %any, %any4, %any6.</summary>
    private static bool IsAddressSpec(string v)
    {
        if (v is "%any" or "%any4" or "%any6")
        {
            return true;
        }
        if (v.Contains('/') || v.Contains('-') && v.Contains(':') || v.Count(c => c == '-') == 1 && IPAddress.TryParse(v.Split('-')[0], out _))
        {
            return TrafficSelectorSpec.TryParse(v, out _, out _);
        }
        if (IPAddress.TryParse(v, out _))
        {
            return true;
        }
        return Uri.CheckHostName(v) == UriHostNameType.Dns;
    }

    private List<SecretConfig> ReadSecrets(Map root)
    {
        var result = new List<SecretConfig>();
        foreach (var (name, node) in Entries(root, "secrets"))
        {
            var path = $"secrets.{name}";
            var m = Section(path, node, keyAllowed: k => k == "secret" || k.StartsWith("id", StringComparison.Ordinal));
            var ids = new List<string>();
            foreach (var key in m.Keys.Where(k => k.StartsWith("id", StringComparison.Ordinal)))
            {
                var value = m.Get(key)!;
                if (value is YamlSequenceNode seq)
                {
                    var i = 0;
                    foreach (var child in seq.Children)
                    {
                        ids.Add(IdValue(child, $"{m.PathOf(key)}[{i++}]"));
                    }
                }
                else
                {
                    // A single id is never split on commas: distinguished names contain them.
                    ids.Add(IdValue(value, m.PathOf(key)));
                }
            }
            var secret = Scalar(m, "secret") ?? throw Fail(m.PathOf("secret"), "missing (every secret needs 'secret')", node);
            var error = ConfigValues.TrySecret(secret.Value, out var bytes);
            if (error is not null)
            {
                throw Fail(m.PathOf("secret"), error, secret.Node);
            }
            result.Add(new SecretConfig { Name = name, Ids = ids, Secret = bytes });
        }
        return WithIncludedSecrets(result, root);
    }

    private string IdValue(YamlNode node, string path)
    {
        if (node is not YamlScalarNode s || string.IsNullOrWhiteSpace(s.Value))
        {
            throw Fail(path, "identity must be a non-empty string", node);
        }
        return s.Value.Trim();
    }

    // ---- value helpers ----------------------------------------------------------------------

    private readonly record struct Item(string Value, string Path, YamlNode? Node)
    {
        public static implicit operator Item((string Value, string Path, YamlNode? Node) t) => new(t.Value, t.Path, t.Node);
    }

    private (string Value, YamlNode Node)? Scalar(Map m, string key)
    {
        var node = m.Get(key);
        if (node is null)
        {
            return null;
        }
        if (node is not YamlScalarNode s)
        {
            throw Fail(m.PathOf(key), $"expected a single value, found a {KindOf(node)}", node);
        }
        if (string.IsNullOrEmpty(s.Value) && s.Style == YamlDotNet.Core.ScalarStyle.Plain)
        {
            throw Fail(m.PathOf(key), "value is missing", node);
        }
        return (s.Value ?? "", node);
    }

    /// <summary>A YAML sequence of scalars, or one string split on commas; null when the key is absent.</summary>
    private List<Item>? List(Map m, string key)
    {
        var node = m.Get(key);
        var path = m.PathOf(key);
        switch (node)
        {
            case null:
                return null;
            case YamlSequenceNode seq:
            {
                var items = new List<Item>();
                var i = 0;
                foreach (var child in seq.Children)
                {
                    var itemPath = $"{path}[{i++}]";
                    if (child is not YamlScalarNode s || string.IsNullOrWhiteSpace(s.Value))
                    {
                        throw Fail(itemPath, child is YamlScalarNode ? "empty list item" : $"expected a single value, found a {KindOf(child)}", child);
                    }
                    items.Add(new Item(s.Value.Trim(), itemPath, child));
                }
                return items;
            }
            case YamlScalarNode scalar:
            {
                var text = scalar.Value ?? "";
                if (text.Trim().Length == 0)
                {
                    return [];
                }
                var parts = text.Split(',');
                var items = new List<Item>();
                for (var i = 0; i < parts.Length; i++)
                {
                    var v = parts[i].Trim();
                    if (v.Length == 0)
                    {
                        throw Fail($"{path}[{i}]", $"empty list item in '{text}'", node);
                    }
                    items.Add(new Item(v, $"{path}[{i}]", node));
                }
                return items;
            }
            default:
                throw Fail(path, $"expected a list or comma-separated string, found a {KindOf(node)}", node);
        }
    }

    private long? Int(Map m, string key, long min, long max)
    {
        if (Scalar(m, key) is not { } s)
        {
            return null;
        }
        var error = ConfigValues.TryInt(s.Value, min, max, out var v);
        return error is null ? v : throw Fail(m.PathOf(key), error, s.Node);
    }

    private double? Double(Map m, string key, double min, double max)
    {
        if (Scalar(m, key) is not { } s)
        {
            return null;
        }
        if (!double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
        {
            throw Fail(m.PathOf(key), $"'{s.Value}' is not a number", s.Node);
        }
        return v >= min && v <= max ? v : throw Fail(m.PathOf(key), $"{v.ToString(CultureInfo.InvariantCulture)} is out of range {min}..{max}", s.Node);
    }

    private bool? Bool(Map m, string key)
    {
        if (Scalar(m, key) is not { } s)
        {
            return null;
        }
        var error = ConfigValues.TryBool(s.Value, out var v);
        return error is null ? v : throw Fail(m.PathOf(key), error, s.Node);
    }

    private TimeSpan? DurationIn(Map m, string key, TimeSpan min, TimeSpan max) =>
        Duration(m, key) is not { } v ? null
        : v >= min && v <= max ? v
        : throw Fail(m.PathOf(key), $"{v.TotalSeconds:0.###}s is out of range {min.TotalSeconds:0.###}s..{max.TotalSeconds:0.###}s", m.Get(key));

    private TimeSpan? Duration(Map m, string key)
    {
        if (Scalar(m, key) is not { } s)
        {
            return null;
        }
        var error = ConfigValues.TryDuration(s.Value, out var v);
        return error is null ? v : throw Fail(m.PathOf(key), error, s.Node);
    }

    private string? Choice(Map m, string key, string[] allowed, string[]? knownButUnsupported = null)
    {
        if (Scalar(m, key) is not { } s)
        {
            return null;
        }
        var v = s.Value.Trim().ToLowerInvariant();
        if (allowed.Contains(v))
        {
            return v;
        }
        var why = knownButUnsupported?.Contains(v) == true
            ? $"'{s.Value}' is not supported (use {string.Join(" or ", allowed)})"
            : $"'{s.Value}' is not one of {string.Join(", ", allowed)}";
        throw Fail(m.PathOf(key), why, s.Node);
    }

    private static string Fmt(TimeSpan t) => $"{(long)t.TotalSeconds}s";

    private static string KindOf(YamlNode node) => node switch
    {
        YamlMappingNode => "mapping",
        YamlSequenceNode => "list",
        _ => "value",
    };

    private static bool TrySplitHostPort(string s, out string host, out int port)
    {
        host = "";
        port = 0;
        int colon;
        if (s.StartsWith('['))
        {
            var close = s.IndexOf(']');
            if (close < 0 || close + 1 >= s.Length || s[close + 1] != ':')
            {
                return false;
            }
            host = s[1..close];
            colon = close + 1;
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return false;
            }
        }
        else
        {
            colon = s.LastIndexOf(':');
            if (colon <= 0 || s.IndexOf(':') != colon)
            {
                return false;
            }
            host = s[..colon];
            if (!IPAddress.TryParse(host, out _) && Uri.CheckHostName(host) != UriHostNameType.Dns)
            {
                return false;
            }
        }
        return int.TryParse(s.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;
    }

    // ---- mappings ---------------------------------------------------------------------------

    /// <summary>A mapping section; key names are validated on creation.</summary>
    private sealed class Map(string path, Dictionary<string, (YamlNode Key, YamlNode Value)> entries)
    {
        public string Path { get; } = path;
        public IEnumerable<string> Keys => entries.Keys;
        public bool Has(string key) => entries.ContainsKey(key);
        public YamlNode? Get(string key) => entries.TryGetValue(key, out var e) ? e.Value : null;
        public string PathOf(string key) => Path.Length == 0 ? key : $"{Path}.{key}";
    }

    private Map Section(string path, YamlNode? node, string displayPath, string[] keys) =>
        Section(path, node, keyAllowed: keys.Contains, displayPath: displayPath, allowedForMessage: keys);

    private Map Section(string path, YamlNode? node, Func<string, bool> keyAllowed, string? displayPath = null, string[]? allowedForMessage = null)
    {
        var entries = new Dictionary<string, (YamlNode, YamlNode)>(StringComparer.Ordinal);
        if (node is null || node is YamlScalarNode { Value: null or "" })
        {
            return new Map(path, entries);
        }
        if (node is not YamlMappingNode mapping)
        {
            throw Fail(displayPath ?? path, $"expected a mapping of keys, found a {KindOf(node)}", node);
        }
        foreach (var (k, v) in mapping.Children)
        {
            var name = (k as YamlScalarNode)?.Value;
            if (name is null)
            {
                throw Fail(displayPath ?? path, "keys must be plain names", k);
            }
            var keyPath = path.Length == 0 ? name : $"{path}.{name}";
            if (!keyAllowed(name))
            {
                var hint = allowedForMessage is null ? "" : $" (expected one of: {string.Join(", ", allowedForMessage)})";
                throw Fail(keyPath, $"unknown key '{name}'{hint}", k);
            }
            entries[name] = (k, v);
        }
        return new Map(path, entries);
    }

    /// <summary>Named subsections (connections, children, secrets) in file order.</summary>
    private IEnumerable<(string Name, YamlNode Node)> Entries(Map parent, string key)
    {
        var node = parent.Get(key);
        var path = parent.PathOf(key);
        if (node is null || node is YamlScalarNode { Value: null or "" })
        {
            yield break;
        }
        if (node is not YamlMappingNode mapping)
        {
            throw Fail(path, $"expected a mapping of named sections, found a {KindOf(node)}", node);
        }
        foreach (var (k, v) in mapping.Children)
        {
            var name = (k as YamlScalarNode)?.Value;
            if (string.IsNullOrWhiteSpace(name) || name.Contains('.'))
            {
                throw Fail(path, $"section names must be non-empty and contain no '.', found '{name}'", k);
            }
            yield return (name, v);
        }
    }

    private ConfigException Fail(string keyPath, string problem, YamlNode? node) =>
        new(file, keyPath, node is null ? problem : $"{problem} (line {node.Start.Line})");
}

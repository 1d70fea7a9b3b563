using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Proposals;

namespace Concentrator.Config;

/// <summary><c>connections:</c>, swanctl's connections section: IKE settings, local and remote authentication, and the children.</summary>
internal static partial class ConfigLoader
{
    private static readonly string[] ConnectionKeys =
    [
        "version", "local_addrs", "remote_addrs", "local_port", "remote_port", "proposals", "encap", "mobike",
        "rekey_time", "reauth_time", "over_time", "rand_time", "dpd_delay", "dpd_timeout", "keyingtries",
        "unique", "send_certreq", "send_cert", "local", "remote", "children", "fragmentation", WeakAlgorithms.ConfigKey, "pools", "vips",
        "childless", "if_id_in", "if_id_out", "pull", "aggressive",
    ];
    private static readonly string[] ChildKeys =
    [
        "local_ts", "remote_ts", "esp_proposals", "ah_proposals", "mode", "start_action", "dpd_action", "close_action",
        "rekey_time", "life_time", "rand_time", "rekey_bytes", "life_bytes", "rand_bytes",
        "rekey_packets", "life_packets", "rand_packets", "replay_window", "updown", "if_id_in", "if_id_out",
    ];

    private static Dictionary<string, ConnectionConfig> ReadConnections(YamlSection root, ListenConfig listen, IReadOnlyList<PrivateKeyEntry> keys,
        IReadOnlyDictionary<string, PoolConfig> pools)
    {
        var credentials = new Credentials(keys, ReadCrls(root), ReadAuthorities(root));
        var result = new Dictionary<string, ConnectionConfig>(StringComparer.Ordinal);
        foreach (var (name, m) in root.Sections("connections", IsConnectionKey))
        {
            result[name] = ReadConnection(name, m, listen, credentials, pools);
        }
        CheckCrlIssuers(root, credentials.Crls, result.Values);
        return result;
    }

    /// <remarks>
    /// swanctl keys whose behaviour is not built yet accept only the value we behave like (unique no, keyingtries 1,
    /// local_port = listen.ike_port, auth psk or pubkey; in children mode tunnel, close_action none); any other
    /// value is an error naming the key, never a value that is read and ignored.
    /// </remarks>
    private static ConnectionConfig ReadConnection(string name, YamlSection m, ListenConfig listen, Credentials credentials,
        IReadOnlyDictionary<string, PoolConfig> pools)
    {
        var d = new ConnectionConfig();
        int ikeVersion = m.Int("version", 0, 255) ?? 2;
        if (ikeVersion is not (1 or 2)) throw m.Fail("version", $"{ikeVersion} is not supported; use 2 (IKEv2) or 1 (IKEv1)");
        if (ikeVersion == 1) CheckV1Connection(m);

        var weakAllowed = m.Bool(WeakAlgorithms.ConfigKey) ?? d.WeakAlgorithms;
        var proposals = ReadProposals(m, "proposals", weakAllowed, IkeProposals);
        if (ikeVersion == 1) proposals = V1Proposals(m, proposals);

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

        var unique = m.Choice("unique", ["no", "never", "keep", "replace"]) switch
        {
            "never" => UniquePolicy.Never,
            "keep" => UniquePolicy.Keep,
            "replace" => UniquePolicy.Replace,
            "no" => UniquePolicy.No,
            _ => d.Unique,
        };
        var keyingTries = m.Int("keyingtries", 0, int.MaxValue) ?? d.KeyingTries;
        if (keyingTries != 1)
        {
            throw m.Fail("keyingtries", $"{keyingTries} is not supported yet (an initiation is tried once: use 1)");
        }
        var localPort = m.Int("local_port", 0, 65535);
        if (localPort is { } lp && lp != listen.IkePort)
        {
            throw m.Fail("local_port", $"{lp} is not supported yet (every connection uses listen.ike_port, {listen.IkePort})");
        }

        var remoteAddrs = Addrs(m, "remote_addrs");
        if (remoteAddrs is { Count: > 0 } remotes && remotes.TrueForAll(IsIpv6Literal) &&
            !listen.Addresses.Any(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6))
        {
            throw m.Fail("remote_addrs", "names only IPv6 peers, but listen.addresses has no IPv6 address to reach them from (add one, or \"::\")");
        }

        var remote = ReadAuth(m.Section("remote", RemoteAuthKeys), local: false, credentials);
        var connection = new ConnectionConfig
        {
            Name = name,
            Version = ikeVersion,
            Aggressive = ReadAggressive(m, ikeVersion), // v1auth
            LocalAddrs = Addrs(m, "local_addrs") ?? d.LocalAddrs,
            RemoteAddrs = remoteAddrs ?? d.RemoteAddrs,
            LocalPort = localPort,
            RemotePort = m.Int("remote_port", 0, 65535),
            Proposals = proposals,
            Encap = m.Bool("encap") ?? d.Encap,
            Mobike = m.Bool("mobike") ?? d.Mobike,
            RekeyTime = rekey,
            ReauthTime = reauth,
            OverTime = over,
            RandTime = rand,
            DpdDelay = m.Duration("dpd_delay") ?? d.DpdDelay,
            DpdTimeout = m.Duration("dpd_timeout") ?? d.DpdTimeout,
            KeyingTries = keyingTries,
            Unique = unique,
            SendCertReq = m.Bool("send_certreq") ?? d.SendCertReq,
            SendCert = m.Choice("send_cert", ["ifasked", "always", "never"]) switch
            {
                "always" => SendCertPolicy.Always,
                "never" => SendCertPolicy.Never,
                _ => d.SendCert,
            },
            Local = ReadAuth(m.Section("local", LocalAuthKeys), local: true, credentials),
            Remote = remote,
            RemoteXauth = ReadXauthRound(m, remote),
            Pull = ReadPull(m),
            WeakAlgorithms = weakAllowed,
            Fragmentation = m.Choice("fragmentation", ["yes", "accept", "force", "no"]) switch
            {
                "accept" => Fragmentation.Accept,
                "force" => Fragmentation.Force,
                "no" => Fragmentation.No,
                _ => d.Fragmentation,
            },
            Childless = m.Choice("childless", ChildlessPolicies.Names) is { } childless ? ChildlessPolicies.Parse(childless) : d.Childless,
            Children = ReadChildren(m, weakAllowed),
            Pools = ReadPoolNames(m, pools),
            Vips = ReadVips(m),
        };
        if (ikeVersion == 1) CheckV1Auth(m, connection);
        return connection;
    }

    /// <summary>
    /// A local or remote round: psk, or pubkey with its certificates (local: also rsa/pss, RSASSA-PSS signatures; remote:
    /// also eap-mschapv2, eap-radius and eap with eap_id; local: eap-mschapv2 with eap_id, our initiator as the EAP client).
    /// The other EAP methods (eap-tls, eap-md5, eap-gtc, ...) and pubkey constraints (rsa-2048, pubkey-sha256, ...) are
    /// refused as not supported yet.
    /// </summary>
    private static AuthConfig ReadAuth(YamlSection m, bool local, Credentials credentials)
    {
        var d = new AuthConfig();
        var auth = m.Scalar("auth");
        var method = auth?.ToLowerInvariant();
        bool constraint = method is not null && (method.StartsWith("pubkey-", StringComparison.Ordinal) || method.StartsWith("rsa", StringComparison.Ordinal) ||
                                                 method.StartsWith("ecdsa", StringComparison.Ordinal) || method.StartsWith("ed25519", StringComparison.Ordinal));
        if (method is not null && !(method is "psk" or "pubkey" or "eap" || constraint || (method.StartsWith("eap-", StringComparison.Ordinal) && method.Length > 4)))
        {
            throw m.Fail("auth", $"'{auth}' is not an auth method (psk, pubkey, eap or eap-<method>)");
        }
        bool rsaPss = local && method == "rsa/pss";
        // Ours: EAP-MSCHAPv2 as the client (the method we speak); the peer's: served here or by RADIUS.
        bool eap = local ? method is AuthConfig.EapMsChapV2 : method is AuthConfig.Eap or AuthConfig.EapMsChapV2 or AuthConfig.EapRadius;
        if (method is not null and not ("psk" or "pubkey") && !rsaPss && !eap)
        {
            throw m.Fail("auth", $"'{auth}' is not supported yet (use psk or pubkey{(local ? ", rsa/pss or eap-mschapv2" : ", eap-mschapv2, eap-radius or eap")})");
        }
        if (!eap && m.Keys.Contains("eap_id")) throw m.Fail("eap_id", $"only with an EAP auth method ({(local ? "eap-mschapv2" : "eap-mschapv2, eap-radius, eap")})");
        var id = m.Scalar("id");
        if (id is not null && id.Trim().Length == 0)
        {
            throw m.Fail("id", "identity is empty (use %any to accept any)");
        }
        id = id?.Trim();
        if (id is not null)
        {
            ReadIdentity(m, "id", id);
        }
        if (method is "pubkey" || rsaPss)
        {
            return local ? ReadLocalPubKey(m, id ?? d.Id, rsaPss, credentials) : ReadRemotePubKey(m, id ?? d.Id, credentials);
        }
        foreach (var key in new[] { "certs", "cacerts", "revocation" }.Where(m.Keys.Contains))
        {
            throw m.Fail(key, "only with auth pubkey");
        }
        var eapId = m.Scalar("eap_id")?.Trim();
        if (eapId is { Length: 0 }) throw m.Fail("eap_id", "identity is empty (use %any to ask the peer with EAP-Identity)");
        return new AuthConfig
        {
            Auth = method ?? d.Auth,
            Id = id ?? d.Id,
            EapId = eapId is null ? null : ReadIdentity(m, "eap_id", eapId),
        };
    }

    /// <summary>An identity in strongSwan's notation (<see cref="Identity.TryParse"/>), refused at load with its key path.</summary>
    private static Identity ReadIdentity(YamlSection m, string key, string text) =>
        Identity.TryParse(text, out var identity, out var error) ? identity! : throw m.Fail(key, $"'{text}': {error}");

    private static Dictionary<string, ChildConfig> ReadChildren(YamlSection connection, bool weakAllowed)
    {
        var result = new Dictionary<string, ChildConfig>(StringComparer.Ordinal);
        var interfaceIds = InterfaceIds(connection, (0, 0));
        foreach (var (name, m) in connection.Sections("children", ChildKeys))
        {
            result[name] = ReadChild(name, m, weakAllowed, interfaceIds);
        }
        return result;
    }

    private static ChildConfig ReadChild(string name, YamlSection m, bool weakAllowed, (uint In, uint Out) interfaceDefaults)
    {
        var d = new ChildConfig();
        var interfaceIds = InterfaceIds(m, interfaceDefaults);
        var startAction = m.Choice("start_action", ["none", "trap", "start"]) ?? d.StartAction;
        CheckRouteBasedChild(m, interfaceIds.Out, startAction);

        var esp = ChildProposals(m, weakAllowed);

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
            StartAction = startAction,
            DpdAction = m.Choice("dpd_action", ["clear", "trap", "restart"]) ?? d.DpdAction,
            CloseAction = m.Choice("close_action", ["none"], ["trap", "start"]) ?? d.CloseAction,
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
            Updown = Updown(m),
            InterfaceIdIn = interfaceIds.In,
            InterfaceIdOut = interfaceIds.Out,
        };
    }

    /// <summary>
    /// swanctl updown: a script run without a shell on the child's up and down, so it must be an existing, executable
    /// regular file now (an argument list or shell syntax is not a path). Null when absent.
    /// </summary>
    private static string? Updown(YamlSection m)
    {
        string path = m.ExistingFile("updown");
        if (path.Length == 0) return null;
        path = Path.GetFullPath(path);
        if (Directory.Exists(path)) throw m.Fail("updown", $"'{path}' is a directory, not a script");
        if (!OperatingSystem.IsWindows() &&
            (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
        {
            throw m.Fail("updown", $"'{path}' is not executable (chmod +x; it runs without a shell)");
        }
        return path;
    }

    private delegate bool ProposalExpander<T>(string text, out IReadOnlyList<T> proposals, out string? error);

    /// <summary>How IKE and ESP proposals differ when they are read: the parser, the "default" list and the checks.</summary>
    private sealed record ProposalKind<T>(
        ProposalExpander<T> Expand, IReadOnlyList<T> Defaults, Func<T, string?> FindBroken, Func<T, string?> FindWeak, Func<T, bool> IsUsable);

    private static readonly ProposalKind<IkeProposal> IkeProposals = new(
        ProposalParser.TryExpandIke, ProposalParser.DefaultIke, WeakAlgorithms.FindBroken, WeakAlgorithms.Find, ProposalSelector.IsUsable);

    private static readonly ProposalKind<EspProposal> EspProposals = new(
        ProposalParser.TryExpandEsp, ProposalParser.DefaultEsp, WeakAlgorithms.FindBroken, WeakAlgorithms.Find, ProposalSelector.IsUsable);

    private static readonly ProposalKind<EspProposal> AhProposals = new(
        ProposalParser.TryExpandAh, [], WeakAlgorithms.FindBroken, WeakAlgorithms.Find, ProposalSelector.IsUsable);

    /// <summary>
    /// A child's proposals: ah_proposals (RFC 4302) or esp_proposals ("default" when neither). Both on one child is refused:
    /// strongSwan would offer them as alternatives in one SA payload, this gateway negotiates one protocol per child.
    /// </summary>
    private static List<EspProposal> ChildProposals(YamlSection m, bool weakAllowed)
    {
        if (m.List("ah_proposals") is null) return ReadProposals(m, "esp_proposals", weakAllowed, EspProposals);
        if (m.List("esp_proposals") is not null)
            throw m.Fail("ah_proposals", "cannot be combined with esp_proposals on one child (one IPsec protocol per child: AH or ESP)");
        return ReadProposals(m, "ah_proposals", weakAllowed, AhProposals);
    }

    /// <summary>
    /// A proposals list ("default" when absent). A written proposal is refused when it holds a broken algorithm, or a
    /// weak one without weak_algorithms; the default list is exempt (its weak algorithms are never offered). Every
    /// proposal needs a combination this build implements.
    /// </summary>
    private static List<T> ReadProposals<T>(YamlSection m, string key, bool weakAllowed, ProposalKind<T> kind)
    {
        var result = new List<T>();
        var items = m.List(key);
        foreach (var item in items ?? [new YamlItem(ProposalParser.DefaultKeyword, m.PathOf(key), null)])
        {
            if (!kind.Expand(item.Value, out var expanded, out var error))
            {
                throw m.Fail(item, error!);
            }
            foreach (var p in expanded)
            {
                if (!ReferenceEquals(expanded, kind.Defaults))
                {
                    if (kind.FindBroken(p) is { } broken) throw m.Fail(item, WeakAlgorithms.BrokenRefusal(item.Value, broken));
                    if (!weakAllowed && kind.FindWeak(p) is { } weak) throw m.Fail(item, WeakAlgorithms.Refusal(item.Value, weak));
                }
                if (!kind.IsUsable(p))
                {
                    throw m.Fail(item, $"proposal '{item.Value}' contains no combination of algorithms this build implements");
                }
            }
            result.AddRange(expanded);
        }
        if (items is { Count: 0 })
        {
            throw m.Fail(key, "needs at least one proposal (or 'default')");
        }
        return result;
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

    /// <summary>An IPv6 address, prefix or range (its first address decides); names and %any are neither family.</summary>
    private static bool IsIpv6Literal(string spec)
    {
        int end = spec.IndexOfAny(['/', '-']);
        return System.Net.IPAddress.TryParse(end < 0 ? spec : spec[..end], out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
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

    private static string Fmt(TimeSpan t) => $"{(long)t.TotalSeconds}s";
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;

namespace Concentrator.Testbed.Cluster;

/// <summary>
/// Three clustered <c>Concentrator run</c> nodes behind a <see cref="ClusterLoadBalancer"/>, with stock strongSwan peers and our
/// own initiators each establishing one tunnel to the service address. Everything lives in namespaces the test creates
/// (10.95.0.0/16, 10.90.0.0/16 and 10.96.0.1 exist only inside them):
/// <code>
///   strongSwan s1..s3 (10.95.2.21-23, inner 10.90.2x.1)  ─┐                   ┌─ n1 10.95.1.11 ─┐  lo: 10.96.0.1 (the service
///   own peers  o1..o2 (10.95.2.11-12, inner 10.90.1x.1) ─┴─ brc ─ lb ─ brn ─┼─ n2 10.95.1.12 ─┤  address each node answers
///                                          (10.95.2.1 | 10.95.1.1,          └─ n3 10.95.1.13 ─┘  through the tunnels)
///                                           service 10.95.0.100 on lo)          cluster over brn
/// </code>
/// Peers differ in source address and (strongSwan's port_nat_t) source port, so the hash spreads their UDP 4500 flows;
/// <see cref="CalibrateAsync"/> picks a hash seed that puts tunnels on every node before anything runs.
/// </summary>
public sealed class FailoverCluster
{
    public const string ServiceAddress = "10.95.0.100";
    public const string ServiceInner = "10.96.0.1";
    public const string GatewayId = "gw.failover.test";
    public const string Psk = "failover-root-test-key-0123456789abcdef";
    public const int NodeCount = 3;
    public const int MetricsPort = 9400;

    /// <summary>The final test hashes over address and port (kube-proxy); CONCENTRATOR_LB_HASH=address switches to the address
    /// alone, which keeps each peer's port 500 and 4500 flows on one node: the harness then runs without SA adoption.</summary>
    public static readonly bool HashSourcePort = Environment.GetEnvironmentVariable("CONCENTRATOR_LB_HASH") != "address";

    /// <summary>The name pattern of the nodes' certificates (n1.cluster.failover.test, ...).</summary>
    public const string NodeNames = "*.cluster.failover.test";

    private readonly InteropScope _scope;
    private readonly string _nodeYamlExtra;

    private FailoverCluster(InteropScope scope, Netns lb, string nodeYamlExtra)
    {
        _scope = scope;
        _nodeYamlExtra = nodeYamlExtra;
        // The nodes talk over the bridge, beyond loopback: mutual TLS with a CA made for this run.
        Certificates = new ClusterCertificates(scope.Bed.Dir("cluster-tls"));
        Lb = new ClusterLoadBalancer(lb, ServiceAddress, scope.Bed.WorkDir, HashSourcePort, seed: 1);
    }

    public ClusterLoadBalancer Lb { get; }
    public ClusterCertificates Certificates { get; }
    public Node[] Nodes { get; } = new Node[NodeCount];
    public List<Peer> Peers { get; } = new();

    public sealed class Node(int index, Netns ns)
    {
        public int Index { get; } = index;
        public string Name => $"n{Index + 1}";
        public string Address => NodeAddress(Index);
        public Netns Ns { get; } = ns;
        public ConcentratorProcess? Process { get; set; }
        public int Incarnation { get; set; }
    }

    public enum PeerKind { StrongSwan, Concentrator }

    public sealed class Peer(string name, PeerKind kind, Netns ns, string outer, int ikePort, int nattPort, string inner)
    {
        public string Name { get; } = name;
        public PeerKind Kind { get; } = kind;
        public Netns Ns { get; } = ns;
        public string Outer { get; } = outer;
        public int IkePort { get; } = ikePort;
        public int NattPort { get; } = nattPort;
        public string Inner { get; } = inner;
        public string Id => $"{Name}.failover.test";
        public StrongSwan? Charon { get; set; }
        public ConcentratorProcess? Process { get; set; }
        public TunnelProbe Probe { get; set; } = null!;

        /// <summary>The node the balancer's hash sends this peer's UDP 4500 flow to (from calibration).</summary>
        public int ExpectedNode { get; set; } = -1;
    }

    public static string NodeAddress(int i) => $"10.95.1.{11 + i}";

    private static string Seeds =>
        "[" + string.Join(", ", Enumerable.Range(0, NodeCount).Select(i => $"akka.tcp://concentrator@{NodeAddress(i)}:4053")) + "]";

    /// <param name="nodeYamlExtra">Connection-level keys for the nodes' connection (lifetimes, DPD), indented to fit.</param>
    public static FailoverCluster Build(InteropScope scope, int strongSwanPeers, int ownPeers, string nodeYamlExtra)
    {
        var bed = scope.Bed;
        var lb = scope.Own(Netns.Create($"{bed.Id}-lb"));
        var cluster = new FailoverCluster(scope, lb, nodeYamlExtra);
        lb.Sysctl("net.ipv4.ip_forward", "1");
        lb.Sysctl("net.ipv4.conf.all.rp_filter", "0");
        lb.Sysctl("net.ipv4.conf.default.rp_filter", "0");
        foreach (var br in new[] { "brn", "brc" })
        {
            lb.Ip("link", "add", br, "type", "bridge");
            lb.Up(br);
        }
        lb.AddAddress("brn", "10.95.1.1/24");
        lb.AddAddress("brc", "10.95.2.1/24");
        lb.AddAddress("lo", ServiceAddress + "/32");

        for (int i = 0; i < NodeCount; i++)
        {
            var ns = scope.Own(Netns.Create($"{bed.Id}-n{i + 1}"));
            Netns.Veth(ns, "e0", lb, $"n{i + 1}");
            lb.Ip("link", "set", $"n{i + 1}", "master", "brn");
            ns.AddAddress("e0", NodeAddress(i) + "/24");
            ns.Ip("route", "add", "default", "via", "10.95.1.1");
            ns.AddAddress("lo", ServiceInner + "/32");
            ns.Sysctl("net.ipv4.conf.all.rp_filter", "0");
            ns.Sysctl("net.ipv4.conf.default.rp_filter", "0");
            cluster.Nodes[i] = new Node(i, ns);
        }

        void AddPeer(string name, PeerKind kind, int host, int ikePort, int nattPort, int innerNet)
        {
            var ns = scope.Own(Netns.Create($"{bed.Id}-{name}"));
            Netns.Veth(ns, "c0", lb, name);
            lb.Ip("link", "set", name, "master", "brc");
            string outer = $"10.95.2.{host}";
            ns.AddAddress("c0", outer + "/24");
            ns.Ip("route", "add", "default", "via", "10.95.2.1");
            string inner = $"10.90.{innerNet}.1";
            ns.AddAddress("lo", inner + "/32");
            var peer = new Peer(name, kind, ns, outer, ikePort, nattPort, inner);
            peer.Probe = new TunnelProbe(name, ns, inner, ServiceInner, bed.Dir("probes"), TimeSpan.FromMilliseconds(20));
            cluster.Peers.Add(peer);
        }

        // Our initiator sends to the responder's port 4500 only from its own natt_port 4500 (it uses its own NAT-T port as the
        // remote's), so our peers differ by address; strongSwan's also by source port.
        for (int k = 0; k < ownPeers; k++) AddPeer($"o{k + 1}", PeerKind.Concentrator, 11 + k, 510 + k, 4500, 11 + k);
        for (int k = 0; k < strongSwanPeers; k++) AddPeer($"s{k + 1}", PeerKind.StrongSwan, 21 + k, 500, 4511 + k, 21 + k);
        return cluster;
    }

    /// <summary>
    /// Tries hash seeds (bounded) until the peers' UDP 4500 flows reach every node and the most loaded node carries a tunnel of
    /// each peer kind (it is the one killed). Each try sends one datagram per peer from its NAT-T source to the service's 4500
    /// before anything listens and reads where conntrack pinned it; the entries are flushed afterwards.
    /// </summary>
    public async Task CalibrateAsync(int maxSeeds = 48)
    {
        var nodes = Nodes.Select(n => n.Address).ToList();
        const string Send = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((sys.argv[1], int(sys.argv[2]))); s.sendto(b"\x00\x00\x00\x00calibrate", (sys.argv[3], 4500)); s.close()
            """;
        string? last = null;
        for (uint seed = 1; seed <= maxSeeds; seed++)
        {
            Lb.SetBackends(nodes, seed);
            await Task.WhenAll(Peers.Select(p => p.Ns.ExecCheckedAsync(TimeSpan.FromSeconds(10), TcpTransfer.Python, "-c", Send,
                p.Outer, p.NattPort.ToString(CultureInfo.InvariantCulture), ServiceAddress))).ConfigureAwait(false);
            var flows = await Lb.FlowsAsync().ConfigureAwait(false);
            await Lb.FlushConntrackAsync().ConfigureAwait(false);
            var placed = Peers.Select(p => flows.TryGetValue((p.Outer, p.NattPort, 4500), out var n) ? nodes.IndexOf(n) : -1).ToArray();
            last = string.Join(", ", Peers.Select((p, i) => $"{p.Name}->{(placed[i] < 0 ? "?" : $"n{placed[i] + 1}")}"));
            if (placed.Any(x => x < 0)) throw new InvalidOperationException($"calibration lost a flow (seed {seed}): {last}");
            var counts = Enumerable.Range(0, NodeCount).Select(n => placed.Count(x => x == n)).ToArray();
            if (counts.Any(c => c == 0)) continue;
            bool victimHasBoth = Enumerable.Range(0, NodeCount).Where(n => counts[n] == counts.Max()).Any(n =>
                Peers.Where((_, i) => placed[i] == n).Select(p => p.Kind).Distinct().Count() == 2);
            if (!victimHasBoth && Peers.Select(p => p.Kind).Distinct().Count() == 2) continue;
            for (int i = 0; i < Peers.Count; i++) Peers[i].ExpectedNode = placed[i];
            _scope.Log($"load balancer: {Lb.Describe()}; UDP 4500 flows {last}");
            return;
        }
        throw new InvalidOperationException($"no hash seed in 1..{maxSeeds} spreads the peers over every node (last: {last})");
    }

    public string NodeYaml(Node node) => $$"""
        listen: { addresses: [{{node.Address}}], ike_port: 500, natt_port: 4500 }
        http: { listen: "127.0.0.1:{{MetricsPort}}" }
        tunnel: { type: tun, device: ipsec0, mtu: 1400, workers: 1, install_routes: yes, plain_esp: no }
        charon: { retransmit_timeout: 1s, retransmit_base: 1.4, retransmit_tries: 3 }
        cluster:
          hostname: {{node.Address}}
          port: 4053
          seed_nodes: {{Seeds}}
          split_brain_resolver: keep-majority
          tls: {{Certificates.TlsYaml(Certificates.Node($"{node.Name}.cluster.failover.test"), NodeNames)}}
        connections:
          rw:
            remote_addrs: ["%any"]
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: {{GatewayId}} }
            remote: { auth: psk, id: "%any" }
        {{_nodeYamlExtra}}
        secrets:
          rw: { secret: "{{Psk}}" }
        """;

    private static string OwnPeerYaml(Peer p) => $$"""
        listen: { addresses: [{{p.Outer}}], ike_port: {{p.IkePort}}, natt_port: {{p.NattPort}} }
        http: { listen: "127.0.0.1:{{MetricsPort}}" }
        tunnel: { type: tun, device: ipsec0, mtu: 1400, workers: 1, install_routes: yes, plain_esp: no }
        charon: { retransmit_timeout: 1s, retransmit_base: 1.4, retransmit_tries: 3 }
        connections:
          svc:
            remote_addrs: [{{ServiceAddress}}]
            proposals: [aes256gcm16-prfsha256-ecp256]
            rekey_time: 0
            dpd_delay: 0
            local: { auth: psk, id: {{p.Id}} }
            remote: { auth: psk, id: {{GatewayId}} }
            children:
              svc: { local_ts: [{{p.Inner}}/32], remote_ts: [{{ServiceInner}}/32], esp_proposals: [aes256gcm16], rekey_time: 0, start_action: start }
        secrets:
          svc: { secret: "{{Psk}}" }
        """;

    private static string SwanctlConfOf(Peer p) => SwanctlConf.Connection("svc", p.Outer, ServiceAddress, p.Id, GatewayId,
        "aes256gcm16-prfsha256-ecp256", "svc", p.Inner + "/32", ServiceInner + "/32", "aes256gcm16", psk: Psk);

    public async Task StartNodeAsync(Node node)
    {
        node.Incarnation++;
        string dir = _scope.Bed.Dir(node.Incarnation == 1 ? node.Name : $"{node.Name}-{node.Incarnation}");
        var p = await ConcentratorProcess.StartAsync(node.Ns, dir, NodeYaml(node), TimeSpan.FromSeconds(60), "information",
            shutdownTimeoutSeconds: 15).ConfigureAwait(false);
        node.Process = p;
        _scope.Own(p);
        _scope.AddDiagnostics($"{node.Name}#{node.Incarnation}", () => p.Diagnostics());
    }

    /// <summary>Starts every node, then waits (bounded) until each is ready and counts <see cref="NodeCount"/> members Up.</summary>
    public async Task StartClusterAsync()
    {
        await Task.WhenAll(Nodes.Select(StartNodeAsync)).ConfigureAwait(false);
        foreach (var n in Nodes)
        {
            if (!await WaitAsync(async () => await ReadyzAsync(n) == 200, _scope.Remaining(TimeSpan.FromSeconds(60))).ConfigureAwait(false))
                throw new TimeoutException($"{n.Name} did not become ready");
        }
        foreach (var n in Nodes)
        {
            if (!await WaitAsync(async () => await ReadAsync(n.Ns, "concentrator_cluster_members", "status=\"up\"") == NodeCount,
                    _scope.Remaining(TimeSpan.FromSeconds(30))).ConfigureAwait(false))
                throw new TimeoutException($"{n.Name} does not count {NodeCount} members Up");
        }
    }

    /// <summary>Starts every peer; strongSwan peers initiate by swanctl, ours by start_action. Waits until each has its tunnel.</summary>
    public async Task StartPeersAsync()
    {
        await Task.WhenAll(Peers.Select(async p =>
        {
            string dir = _scope.Bed.Dir(p.Name);
            if (p.Kind == PeerKind.StrongSwan)
            {
                var charon = _scope.Own(await StrongSwan.StartAsync(p.Ns, dir, p.Name,
                    extraSettings: $"  port_nat_t = {p.NattPort}").ConfigureAwait(false));
                p.Charon = charon;
                _scope.AddDiagnostics(p.Name, () => charon.Diagnostics());
                await charon.LoadAsync(SwanctlConfOf(p)).ConfigureAwait(false);
                var r = await charon.InitiateAsync("svc", "svc", 30).ConfigureAwait(false);
                if (!r.Ok) throw new InvalidOperationException($"{p.Name} could not initiate: {r}");
            }
            else
            {
                var proc = _scope.Own(await ConcentratorProcess.StartAsync(p.Ns, dir, OwnPeerYaml(p), TimeSpan.FromSeconds(60),
                    "debug").ConfigureAwait(false));
                p.Process = proc;
                _scope.AddDiagnostics(p.Name, () => proc.Diagnostics());
                if (!await proc.WaitForEventAsync(ConcentratorProcess.ChildSaInstalled, _scope.Remaining(TimeSpan.FromSeconds(30)))
                        .ConfigureAwait(false))
                    throw new TimeoutException($"{p.Name}'s tunnel did not come up");
            }
        })).ConfigureAwait(false);
    }

    /// <summary>SIGKILL to a node's process (found by its id inside the node's namespace, which only this harness uses).</summary>
    public async Task KillNodeAsync(Node node)
    {
        int killed = 0;
        foreach (int pid in await Netns.PidsAsync(node.Ns.Name).ConfigureAwait(false))
        {
            string cmdline;
            try { cmdline = File.ReadAllText($"/proc/{pid}/cmdline"); } catch (IOException) { continue; }
            if (!cmdline.Contains(Path.GetFileName(ConcentratorProcess.AssemblyPath), StringComparison.Ordinal)) continue;
            await Command.RunAsync("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            killed++;
        }
        if (killed != 1) throw new InvalidOperationException($"expected one concentrator process in {node.Ns.Name}, killed {killed}");
        if (!await WaitAsync(() => Task.FromResult(node.Process!.HasExited), TimeSpan.FromSeconds(10)).ConfigureAwait(false))
            throw new TimeoutException($"{node.Name} did not die after SIGKILL");
    }

    /// <summary>One IKE SA as a node's admin endpoint lists it: the peer's identity, our SPI, the first child's inbound SPI.</summary>
    public sealed record NodeSa(string RemoteId, string Spi, string State, string Remote, string ChildInboundSpi);

    /// <summary>The node's IKE SAs (empty when its admin endpoint does not answer).</summary>
    public static async Task<IReadOnlyList<NodeSa>> SasAsync(Node node)
    {
        var r = await node.Ns.ExecAsync(TimeSpan.FromSeconds(10), "curl", "-sS", "-f", "--max-time", "5",
            $"http://127.0.0.1:{MetricsPort}/admin/sas").ConfigureAwait(false);
        if (!r.Ok) return [];
        using var doc = JsonDocument.Parse(r.Stdout);
        var list = new List<NodeSa>();
        foreach (var sa in doc.RootElement.EnumerateArray())
        {
            string child = sa.GetProperty("children").EnumerateArray().Select(c => c.GetProperty("inbound_spi").GetString() ?? "")
                .FirstOrDefault() ?? "";
            list.Add(new NodeSa(sa.GetProperty("remote_id").GetString() ?? "", sa.GetProperty("spi").GetString() ?? "",
                sa.GetProperty("state").GetString() ?? "", sa.GetProperty("remote").GetString() ?? "", child));
        }
        return list;
    }

    /// <summary>
    /// For each peer, a node listing an established IKE SA with it and that SA (-1 and null when none does). When several nodes
    /// list one (an SA being handed over), the node in <paramref name="prefer"/> (where the peer's UDP 4500 flow lands) wins.
    /// </summary>
    public async Task<Dictionary<string, (int Node, NodeSa? Sa)>> PlacementAsync(IEnumerable<Node>? nodes = null,
        IReadOnlyDictionary<string, int>? prefer = null)
    {
        var result = Peers.ToDictionary(p => p.Name, _ => (-1, (NodeSa?)null));
        foreach (var n in nodes ?? Nodes)
        {
            if (n.Process is null || n.Process.HasExited) continue;
            foreach (var sa in await SasAsync(n).ConfigureAwait(false))
            {
                var peer = Peers.FirstOrDefault(p => p.Id == sa.RemoteId);
                if (peer is null || sa.State != "Established") continue;
                if (result[peer.Name].Item1 < 0 || (prefer is not null && prefer.GetValueOrDefault(peer.Name, -1) == n.Index))
                    result[peer.Name] = (n.Index, sa);
            }
        }
        return result;
    }

    /// <summary>The node each peer's UDP 4500 flow (IKE after NAT detection, and ESP) is pinned to now, from the balancer's
    /// conntrack (-1 when it has no entry).</summary>
    public async Task<Dictionary<string, int>> FlowNodesAsync()
    {
        var flows = await Lb.FlowsAsync().ConfigureAwait(false);
        return Peers.ToDictionary(p => p.Name,
            p => flows.TryGetValue((p.Outer, p.NattPort, 4500), out var node) ? Array.FindIndex(Nodes, n => n.Address == node) : -1);
    }

    /// <summary>IKE_SA_INIT requests this peer has sent so far (ours: negotiations started as initiator; strongSwan: its log).</summary>
    public static async Task<int> InitiationsAsync(Peer p) => p.Kind == PeerKind.StrongSwan
        ? p.Charon!.Log().Split('\n').Count(l => l.Contains("initiating IKE_SA", StringComparison.Ordinal))
        : (int)await ReadAsync(p.Ns, "concentrator_ike_negotiations_started_total", "role=\"initiator\"").ConfigureAwait(false);

    public static async Task<int> ReadyzAsync(Node n)
    {
        var r = await n.Ns.ExecAsync(TimeSpan.FromSeconds(10), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
            $"http://127.0.0.1:{MetricsPort}/readyz").ConfigureAwait(false);
        return int.TryParse(r.Stdout.Trim(), out var code) ? code : 0;
    }

    /// <summary>The family's value, or -1 when the scrape fails (the process is starting or gone).</summary>
    public static async Task<double> ReadAsync(Netns ns, string family, params string[] labels)
    {
        var r = await ns.ExecAsync(TimeSpan.FromSeconds(10), "curl", "-sS", "-f", "--max-time", "5",
            $"http://127.0.0.1:{MetricsPort}/metrics").ConfigureAwait(false);
        return r.Ok ? GatewayMetrics.Sum(r.Stdout, family, labels) : -1;
    }

    /// <summary>The sum of a family over the given live nodes (a node that does not answer counts 0).</summary>
    public static async Task<double> SumAsync(IEnumerable<Node> nodes, string family, params string[] labels)
    {
        double sum = 0;
        foreach (var n in nodes) sum += Math.Max(0, await ReadAsync(n.Ns, family, labels).ConfigureAwait(false));
        return sum;
    }

    public static async Task<bool> WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, int pollMs = 250)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (await condition().ConfigureAwait(false)) return true;
            await Task.Delay(pollMs).ConfigureAwait(false);
        }
        return await condition().ConfigureAwait(false);
    }

    public static double UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
}

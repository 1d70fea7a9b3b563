using System.Globalization;
using System.Text.RegularExpressions;
using Concentrator.Testbed.Interop;

namespace Concentrator.Testbed.Cluster;

/// <summary>
/// A UDP load balancer in its own namespace, the way kube-proxy builds one for a Service without IPVS: nftables DNAT of the
/// service address's UDP 500 and 4500 to one node chosen by <c>jhash</c> over the packet's source (a numbered map indexed by
/// the hash modulo the number of ready nodes). No masquerade: nodes see the peers' real addresses
/// (<c>externalTrafficPolicy: Local</c>), and reply through this namespace, whose conntrack restores the service address.
/// Conntrack pins a flow to the node its first packet chose; changing the map moves only new flows, so removing a node
/// also deletes the conntrack entries whose DNAT target was that node (kube-proxy's <c>conntrack -D</c> for UDP), and no other.
/// </summary>
public sealed partial class ClusterLoadBalancer
{
    private const string Table = "cit_lb";
    private readonly Netns _ns;
    private readonly string _workDir;
    private int _generation;

    public ClusterLoadBalancer(Netns ns, string serviceAddress, string workDir, bool hashSourcePort, uint seed)
    {
        _ns = ns;
        ServiceAddress = serviceAddress;
        _workDir = workDir;
        HashSourcePort = hashSourcePort;
        Seed = seed;
    }

    public string ServiceAddress { get; }

    /// <summary>True: <c>jhash ip saddr . udp sport</c> (kube-proxy's 5-tuple spreading; the test's mode). False: the source address
    /// only, which keeps a peer's port 500 and port 4500 flows on one node (validates the harness without SA adoption).</summary>
    public bool HashSourcePort { get; }

    public uint Seed { get; private set; }

    /// <summary>The node addresses in map order (index = hash modulo count).</summary>
    public IReadOnlyList<string> Backends { get; private set; } = [];

    /// <summary>Replaces the DNAT rule in one nft transaction; established flows keep their conntrack entries.</summary>
    public void SetBackends(IReadOnlyList<string> backends, uint? seed = null)
    {
        if (backends.Count == 0) throw new ArgumentException("a Service needs at least one ready endpoint", nameof(backends));
        if (seed is { } s) Seed = s;
        string key = HashSourcePort ? "ip saddr . udp sport" : "ip saddr";
        string map = string.Join(", ", backends.Select((b, i) => $"{i} : {b}"));
        string rules = $$"""
            table ip {{Table}} {
              chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
            }
            flush chain ip {{Table}} prerouting
            add rule ip {{Table}} prerouting ip daddr {{ServiceAddress}} udp dport { 500, 4500 } dnat to jhash {{key}} mod {{backends.Count}} seed 0x{{Seed:x8}} map { {{map}} }
            """;
        string file = Path.Combine(_workDir, $"lb-{++_generation}.nft");
        File.WriteAllText(file, rules + "\n");
        _ns.Exec("nft", "-f", file);
        Backends = backends.ToList();
    }

    /// <summary>
    /// Kubernetes removing an endpoint: the map without <paramref name="node"/> (hash modulo one less), then every UDP conntrack
    /// entry whose reply comes from that node deleted so its flows are balanced again on their next packet.
    /// Returns the number of entries deleted.
    /// </summary>
    public async Task<int> RemoveBackendAsync(string node)
    {
        SetBackends(Backends.Where(b => b != node).ToList());
        var r = await _ns.ExecAsync(TimeSpan.FromSeconds(10), "conntrack", "-D", "-p", "udp", "--reply-src", node).ConfigureAwait(false);
        // conntrack exits 1 when nothing matched; its summary line counts what it deleted.
        var m = DeletedPattern().Match(r.Stderr + r.Stdout);
        if (!m.Success && !r.Ok) throw new InvalidOperationException("conntrack -D failed: " + r);
        return m.Success ? int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>The node each UDP flow (peer address, peer port) to the service address is pinned to, from conntrack.</summary>
    public async Task<IReadOnlyDictionary<(string Address, int Port, int ServicePort), string>> FlowsAsync()
    {
        var r = await _ns.ExecCheckedAsync(TimeSpan.FromSeconds(10), "conntrack", "-L", "-p", "udp", "--orig-dst", ServiceAddress)
            .ConfigureAwait(false);
        var result = new Dictionary<(string, int, int), string>();
        foreach (Match m in FlowPattern().Matches(r.Stdout))
        {
            result[(m.Groups["src"].Value, int.Parse(m.Groups["sport"].Value, CultureInfo.InvariantCulture),
                int.Parse(m.Groups["dport"].Value, CultureInfo.InvariantCulture))] = m.Groups["node"].Value;
        }
        return result;
    }

    public Task FlushConntrackAsync() => _ns.ExecAsync(TimeSpan.FromSeconds(10), "conntrack", "-F");

    public string Describe() =>
        $"jhash {(HashSourcePort ? "ip saddr . udp sport" : "ip saddr")} mod {Backends.Count} seed 0x{Seed:x8} -> [{string.Join(", ", Backends)}]";

    [GeneratedRegex(@"(?<n>\d+) flow entries have been deleted")]
    private static partial Regex DeletedPattern();

    // "udp 17 29 src=P dst=VIP sport=4500 dport=4500 [UNREPLIED] src=NODE dst=P sport=4500 dport=4500 ..."
    [GeneratedRegex(@"src=(?<src>[0-9.]+) dst=[0-9.]+ sport=(?<sport>\d+) dport=(?<dport>\d+)\s+(?:\[UNREPLIED\]\s+)?src=(?<node>[0-9.]+)")]
    private static partial Regex FlowPattern();
}

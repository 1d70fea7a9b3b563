using System.Text.RegularExpressions;

namespace Concentrator.Testbed.Interop;

/// <summary>
/// A middlebox that drops IP fragments, as many do (the reason for RFC 7383): an nft netdev ingress chain on one device
/// of a namespace drops every IPv4 fragment (MF set or a non-zero offset) and counts them. Netdev ingress runs before
/// conntrack's defragmentation, so nothing reassembles the fragments in front of the rule. Locally generated fragments
/// leave a namespace whole through its own hooks, so a path is covered by one filter at each end's ingress. It also counts
/// IKE datagrams (UDP 500 or 4500) longer than charon.fragment_size's default, 1280 octets of IP datagram, which a sender
/// that fragments must never send.
/// </summary>
public static partial class FragmentFilter
{
    private static string Table(string device) => $"cit_frag_{device}";

    /// <summary>charon.fragment_size's default (strongSwan's and ours): the longest IP datagram of an IKE fragment.</summary>
    public const int FragmentSize = 1280;

    public static void Install(Netns ns, string device, string workDir)
    {
        string rules = $$"""
            table netdev {{Table(device)}} {
              counter dropped { }
              counter oversize { }
              chain ingress {
                type filter hook ingress device "{{device}}" priority -500; policy accept;
                ip length > {{FragmentSize}} udp dport { 500, 4500 } counter name "oversize"
                ip frag-off & 0x3fff != 0 counter name "dropped" drop
              }
            }
            """;
        string file = Path.Combine(workDir, $"fragment-filter-{ns.Name}-{device}.nft");
        File.WriteAllText(file, rules + "\n");
        ns.Exec("nft", "-f", file);
    }

    /// <summary>IP fragments the filter on <paramref name="device"/> dropped so far.</summary>
    public static long Dropped(Netns ns, string device) => Count(ns, device, "dropped");

    /// <summary>IKE datagrams longer than <see cref="FragmentSize"/> that reached <paramref name="device"/> (first fragments included).</summary>
    public static long Oversized(Netns ns, string device) => Count(ns, device, "oversize");

    private static long Count(Netns ns, string device, string counter)
    {
        var text = ns.Exec("nft", "list", "counter", "netdev", Table(device), counter).Stdout;
        var m = Packets().Match(text);
        if (!m.Success) throw new InvalidOperationException($"no counter {counter} on {ns.Name}/{device}: {text}");
        return long.Parse(m.Groups["packets"].Value);
    }

    [GeneratedRegex(@"packets (?<packets>\d+)")]
    private static partial Regex Packets();
}

namespace Concentrator.Testbed.Interop;

/// <summary>
/// nft counters of one namespace's ESP and NAT-T traffic split by outer address family (table inet cit_outer): what
/// crossed as ESP-in-UDP on port 4500 (first payload word not the non-ESP marker, nor a keepalive), plain ESP (protocol
/// or next header 50), and NAT-T keepalives (a UDP 4500 datagram of one 0xFF octet, RFC 3948 §2.3), each in and out.
/// Names are {v4|v6}_{udp_esp|raw_esp|keepalive}_{in|out}.
/// </summary>
public static class OuterFamilyCounters
{
    public const string Table = "cit_outer";

    public static void Install(Netns ns, string workDir)
    {
        var counters = new List<string>();
        var input = new List<string>();
        var output = new List<string>();
        foreach (var (family, proto) in (ReadOnlySpan<(string, string)>)[("v4", "ipv4"), ("v6", "ipv6")])
        {
            foreach (var kind in (string[])["udp_esp", "raw_esp", "keepalive"])
            {
                counters.Add($"counter {family}_{kind}_in {{ }}");
                counters.Add($"counter {family}_{kind}_out {{ }}");
            }
            input.Add($"meta nfproto {proto} udp dport 4500 udp length > 11 @th,64,32 != 0 counter name \"{family}_udp_esp_in\"");
            input.Add($"meta nfproto {proto} meta l4proto esp counter name \"{family}_raw_esp_in\"");
            input.Add($"meta nfproto {proto} udp dport 4500 udp length 9 @th,64,8 0xff counter name \"{family}_keepalive_in\"");
            output.Add($"meta nfproto {proto} udp sport 4500 udp length > 11 @th,64,32 != 0 counter name \"{family}_udp_esp_out\"");
            output.Add($"meta nfproto {proto} meta l4proto esp counter name \"{family}_raw_esp_out\"");
            output.Add($"meta nfproto {proto} udp sport 4500 udp length 9 @th,64,8 0xff counter name \"{family}_keepalive_out\"");
        }
        string rules = $$"""
            table inet {{Table}} {
              {{string.Join("\n  ", counters)}}
              chain input {
                type filter hook input priority 0; policy accept;
                {{string.Join("\n    ", input)}}
              }
              chain output {
                type filter hook output priority 0; policy accept;
                {{string.Join("\n    ", output)}}
              }
            }
            """;
        string file = Path.Combine(workDir, $"outer-counters-{ns.Name}.nft");
        File.WriteAllText(file, rules + "\n");
        ns.Exec("nft", "-f", file);
    }

    public static IReadOnlyDictionary<string, EspCounters.Value> Read(Netns ns) => EspCounters.Read(ns, Table);
}

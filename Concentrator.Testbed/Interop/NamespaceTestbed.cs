using System.Security.Cryptography;

namespace Concentrator.Testbed.Interop;

/// <summary>
/// The interop topology, all inside namespaces this harness owns (10.99.0.0/16 never leaves them):
/// <code>
///   peer (p0 10.99.1.2, inner 10.99.10.1 on lo)
///     └─ veth ─ gateway (g0 10.99.1.1 | g1 10.99.2.1, forwarding)
///                   └─ veth ─ lan (l0 10.99.2.2, default via 10.99.2.1)
///
/// with a NAT router:
///   peer (p0 10.99.3.2, default via 10.99.3.1)
///     └─ veth ─ router (r0 10.99.3.1 | r1 10.99.1.2, masquerade out of r1)
///                   └─ veth ─ gateway (g0 10.99.1.1 | g1 10.99.2.1) ─ veth ─ lan (l0 10.99.2.2)
/// </code>
/// With <c>ipv6</c> every link also carries an fd00:99::/32 address (NamespaceTestbed.Ipv6.cs).
/// Names are <c>cit{pid}x{random}-{role}</c>: unique per instance, and a namespace whose creating
/// process is gone is stale and removed by <see cref="CleanupStale"/>.
/// </summary>
public sealed partial class NamespaceTestbed : IAsyncDisposable
{
    public const string Prefix = "cit";

    public const string GatewayOuter = "10.99.1.1";
    public const string GatewayInner = "10.99.2.1";
    public const string LanHost = "10.99.2.2";
    public const string LanSubnet = "10.99.2.0/24";
    public const string PeerInner = "10.99.10.1";
    public const string PeerInnerSubnet = "10.99.10.0/24";
    public const string RouterInside = "10.99.3.1";

    public const string PeerDevice = "p0";
    public const string GatewayOuterDevice = "g0";
    public const string GatewayInnerDevice = "g1";
    public const string LanDevice = "l0";

    private readonly List<Netns> _namespaces = new();
    private bool _disposed;

    private NamespaceTestbed(string id, bool nat, bool ipv6)
    {
        Id = id;
        WithNat = nat;
        WithIpv6 = ipv6;
        WorkDir = Path.Combine(Path.GetTempPath(), "concentrator-interop", id);
        Directory.CreateDirectory(WorkDir);
    }

    public string Id { get; }
    public bool WithNat { get; }

    /// <summary>Configs, logs and captures of this run; deleted by <see cref="DeleteWorkDir"/> after a passing test.</summary>
    public string WorkDir { get; }

    public Netns Peer { get; private set; } = null!;
    public Netns Gateway { get; private set; } = null!;
    public Netns Lan { get; private set; } = null!;
    public Netns? Router { get; private set; }

    /// <summary>The peer's own underlay address.</summary>
    public string PeerOuter => WithNat ? "10.99.3.2" : "10.99.1.2";

    /// <summary>The address the gateway sees the peer's packets come from (the router's, behind NAT).</summary>
    public string PeerSeenByGateway => "10.99.1.2";

    public static NamespaceTestbed Create(bool withNatRouter = false, bool ipv6 = false)
    {
        CleanupStale();
        string id = $"{Prefix}{Environment.ProcessId}x{Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant()}";
        var bed = new NamespaceTestbed(id, withNatRouter, ipv6);
        try
        {
            bed.Build();
            return bed;
        }
        catch
        {
            bed.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    private Netns Add(string role)
    {
        var ns = Netns.Create($"{Id}-{role}");
        _namespaces.Add(ns);
        if (WithIpv6) EnableIpv6(ns);
        return ns;
    }

    private void Build()
    {
        Peer = Add("peer");
        Gateway = Add("gw");
        Lan = Add("lan");

        Gateway.Sysctl("net.ipv4.ip_forward", "1");
        Gateway.Sysctl("net.ipv4.conf.all.rp_filter", "0");
        Gateway.Sysctl("net.ipv4.conf.default.rp_filter", "0");

        if (WithNat)
        {
            Router = Add("nat");
            Netns.Veth(Peer, PeerDevice, Router, "r0");
            Netns.Veth(Router, "r1", Gateway, GatewayOuterDevice);
            Peer.AddAddress(PeerDevice, PeerOuter + "/24");
            Router.AddAddress("r0", RouterInside + "/24");
            Router.AddAddress("r1", PeerSeenByGateway + "/24");
            Peer.Ip("route", "add", "default", "via", RouterInside);
            Router.Sysctl("net.ipv4.ip_forward", "1");
            string rules = """
                table ip cit_nat {
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    oifname "r1" masquerade
                  }
                }
                """;
            ApplyNft(Router, "router.nft", rules);
        }
        else
        {
            Netns.Veth(Peer, PeerDevice, Gateway, GatewayOuterDevice);
            Peer.AddAddress(PeerDevice, PeerOuter + "/24");
        }

        Gateway.AddAddress(GatewayOuterDevice, GatewayOuter + "/24");
        Netns.Veth(Gateway, GatewayInnerDevice, Lan, LanDevice);
        Gateway.AddAddress(GatewayInnerDevice, GatewayInner + "/24");
        Lan.AddAddress(LanDevice, LanHost + "/24");
        Lan.Ip("route", "add", "default", "via", GatewayInner);

        // The peer's inner (tunnel) address: on lo, so it exists without a dummy module.
        Peer.AddAddress("lo", PeerInner + "/32");
        if (WithIpv6) AddIpv6();
    }

    /// <summary>Loads <paramref name="rules"/> into <paramref name="ns"/>'s nftables from a file of the run.</summary>
    private void ApplyNft(Netns ns, string fileName, string rules)
    {
        string file = Path.Combine(WorkDir, fileName);
        File.WriteAllText(file, rules + "\n");
        ns.Exec("nft", "-f", file);
    }

    /// <summary>A directory for one component's files (charon's config, vici socket, logs).</summary>
    public string Dir(string name)
    {
        string d = Path.Combine(WorkDir, name);
        Directory.CreateDirectory(d);
        return d;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        for (int i = _namespaces.Count - 1; i >= 0; i--)
        {
            try { await _namespaces[i].DisposeAsync().ConfigureAwait(false); } catch (Exception) { /* teardown continues */ }
        }
        _namespaces.Clear();
    }

    /// <summary>Removes the run's files; call after a passing test (failing ones keep them for diagnosis).</summary>
    public void DeleteWorkDir()
    {
        try { Directory.Delete(WorkDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Deletes namespaces with this harness's prefix whose creating process no longer exists (left over by
    /// a killed run); namespaces of live parallel runs are left alone.
    /// </summary>
    public static void CleanupStale()
    {
        foreach (var name in Netns.List())
        {
            var m = Netns.OwnerPid().Match(name);
            if (!m.Success || !name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            int pid = int.Parse(m.Groups["pid"].Value);
            if (pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}")) continue;
            Netns.DeleteAsync(name).GetAwaiter().GetResult();
        }
    }
}

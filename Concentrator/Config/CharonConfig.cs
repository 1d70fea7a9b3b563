using Concentrator.Ike.Admission;

namespace Concentrator.Config;

/// <summary>
/// Daemon-wide settings under <c>charon:</c>, named as in strongswan.conf's <c>charon.*</c> section so an admin can
/// carry them across. Tunables, not protocol facts; the defaults are strongSwan's unless a comment says otherwise.
/// </summary>
public sealed class CharonConfig
{
    public const int MaxRetransmitTries = 20;

    /// <summary>Smallest accepted max_packet: IKE_AUTH with a PSK and one child needs well under 1000 bytes; IPv6's minimum MTU.</summary>
    public const int MinMaxPacket = 1280;

    /// <summary>Smallest accepted max_payloads: an IKE_AUTH request carries about a dozen.</summary>
    public const int MinMaxPayloads = 16;

    /// <summary>Smallest accepted fragment_size(_v4/_v6) other than 0: the datagram every IPv4 host must accept (RFC 791).</summary>
    public const int MinFragmentSize = 576;

    /// <summary>Bounds of fragment_memory: one reassembly of the largest max_packet, and 4 GiB.</summary>
    public const long MinFragmentMemory = 65535, MaxFragmentMemory = 4L << 30;

    /// <summary><c>plugins.eap-radius</c>: the RADIUS client; null when not configured.</summary>
    public EapRadiusConfig? EapRadius { get; init; }

    /// <summary>
    /// <c>plugins.ipsec-mb.load</c>: ESP AES-GCM-128/256 may use intel-ipsec-mb (when present, version 1.3, 1.4
    /// or 1.5 and self-tested; else OpenSSL). No keeps every cipher on OpenSSL.
    /// </summary>
    public bool IpsecMbLoad { get; init; } = true;

    /// <summary><c>retransmit_timeout</c>: first retransmission delay.</summary>
    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary><c>retransmit_base</c>: each further delay is the previous one times this.</summary>
    public double RetransmitBase { get; init; } = 1.8;

    /// <summary><c>retransmit_tries</c>: retransmissions before the exchange (and its IKE SA) is given up.</summary>
    public int RetransmitTries { get; init; } = 5;

    /// <summary><c>cookie_threshold</c>: half-open IKE SAs from which IKE_SA_INIT must carry a COOKIE; 0 disables cookies.</summary>
    public int CookieThreshold { get; init; } = 10;

    /// <summary><c>cookie_threshold_ip</c>: half-open IKE SAs from one source address from which its IKE_SA_INIT must carry
    /// a COOKIE; 0: never per address.</summary>
    public int CookieThresholdIp { get; init; } = 3;

    /// <summary><c>init_limit_half_open</c>: half-open IKE SAs from which new IKE_SA_INIT requests are dropped
    /// (strongSwan's default is 0, unlimited; ours bounds memory).</summary>
    public int InitLimitHalfOpen { get; init; } = 5000;

    /// <summary><c>block_threshold</c>: half-open IKE SAs one source address may have, counted apart for requests that
    /// returned a COOKIE and those that did not; 0: unlimited.</summary>
    public int BlockThreshold { get; init; } = 5;

    /// <summary><c>half_open_timeout</c>: a responder IKE SA not established by then is removed.</summary>
    public TimeSpan HalfOpenTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>init_limit_job_load</c>: new IKE_SA_INIT requests that may wait for processing; 0: unlimited
    /// (strongSwan's default; ours bounds how many can queue ahead of established SAs' messages).</summary>
    public int InitLimitJobLoad { get; init; } = 1000;

    /// <summary><c>init_limit_rate</c> (Concentrator's, no strongSwan twin): new responder IKE SAs per second, each one
    /// DH computation; 0: unlimited. Without it a flood that never completes IKE_AUTH is still held to
    /// init_limit_half_open / half_open_timeout new SAs a second.</summary>
    public int InitLimitRate { get; init; }

    /// <summary><c>auth_failed_threshold</c> (Concentrator's): AUTHENTICATION_FAILED from one source address within
    /// auth_failed_backoff after which its IKE_SA_INIT requests are refused for auth_failed_backoff; 0: never.</summary>
    public int AuthFailedThreshold { get; init; } = 5;

    /// <summary><c>auth_failed_backoff</c> (Concentrator's): the failure window and the block that follows.</summary>
    public TimeSpan AuthFailedBackoff { get; init; } = TimeSpan.FromSeconds(60);
    // ---- Resource bounds (issue 8): each is enforced where the resource is spent; a hit is counted in
    // concentrator_limit_hits_total{limit=<key>} and logged at most once per interval (LimitReporter). ----

    /// <summary><c>max_packet</c>: largest IKE message accepted, in bytes (strongSwan's name and default).</summary>
    public int MaxPacket { get; init; } = ResourceLimits.Default.MaxPacket;

    /// <summary><c>max_payloads</c>: payloads in one IKE message chain (outer, or inside SK) before it is dropped.</summary>
    public int MaxPayloads { get; init; } = ResourceLimits.Default.MaxPayloads;

    /// <summary><c>ikesa_limit</c>: IKE SAs in total from which new IKE_SA_INIT requests are dropped (strongSwan's
    /// default is 0, unlimited; ours bounds memory). 0 = unlimited.</summary>
    public int IkeSaLimit { get; init; } = ResourceLimits.Default.IkeSaLimit;

    /// <summary><c>ikesa_limit_per_peer</c>: IKE SAs per remote address (several peers may share one NAT). 0 = unlimited.</summary>
    public int IkeSaLimitPerPeer { get; init; } = ResourceLimits.Default.IkeSaLimitPerPeer;

    /// <summary><c>child_sa_limit</c>: Child SAs per IKE SA; a CREATE_CHILD_SA beyond it gets NO_ADDITIONAL_SAS. 0 = unlimited.</summary>
    public int ChildSaLimit { get; init; } = ResourceLimits.Default.ChildSaLimit;

    /// <summary><c>acquire_queue</c>: packets held per trap policy while its SA is negotiated; more are dropped.</summary>
    public int AcquireQueue { get; init; } = ResourceLimits.Default.AcquireQueue;

    /// <summary><c>routing_table</c>: the routing table the TUN data plane installs tunnel routes into (strongSwan's name and
    /// default); also the fwmark of the gateway's IKE and ESP sockets, which the table's rules skip. Never the main table.</summary>
    public uint RoutingTable { get; init; } = 220;

    /// <summary><c>routing_table_prio</c>: priority of the first of the three rules that look the table up (strongSwan's
    /// name and default; the others take the next two).</summary>
    public uint RoutingTablePrio { get; init; } = 220;

    /// <summary><c>admin_rate</c>: admin API requests per second (burst of the same size); more get HTTP 429.</summary>
    public int AdminRate { get; init; } = ResourceLimits.Default.AdminRate;

    /// <summary><c>keep_alive</c>: the NAT-T keepalive interval (RFC 3948 §2.3) of an IKE SA behind a NAT; strongSwan's
    /// name and default (20 s); 0 sends none.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(20);

    // ---- IKE fragmentation (RFC 7383) ----

    /// <summary><c>fragment_size</c>: the largest IP datagram (IP and UDP headers included) of an IKE fragment we send
    /// (strongSwan's name and default); 0: the address family's default, 576 for IPv4 and 1280 for IPv6.</summary>
    public int FragmentSize { get; init; } = 1280;

    /// <summary><c>fragment_size_v4</c>: the same for IPv4 peers alone; 0 (the default): fragment_size.</summary>
    public int FragmentSizeV4 { get; init; }

    /// <summary><c>fragment_size_v6</c>: the same for IPv6 peers alone; 0 (the default): fragment_size.</summary>
    public int FragmentSizeV6 { get; init; }

    /// <summary><c>fragment_memory</c> (Concentrator's, no strongSwan twin): octets of IKE fragments all SAs of the node
    /// may hold while reassembling; a fragment beyond it is dropped. Each reassembly is bounded by max_packet. Never less
    /// than <see cref="HalfOpenFragmentMemory"/>, which is also the default (100 MB at the other keys' defaults).</summary>
    public long FragmentMemory { get; init; } = ResourceLimits.Default.FragmentMemory;

    /// <summary>
    /// The most IKE fragments half-open SAs can hold together: each takes one message in reassembly (the peer's IKE_AUTH
    /// request; a responder sends no request of its own before it is established) of at most max_packet octets of content
    /// plus its first datagram, itself at most max_packet. Their number is bounded by init_limit_half_open, or by
    /// ikesa_limit when that is 0 (unlimited); null when both are.
    /// </summary>
    public static long? HalfOpenFragmentMemory(int initLimitHalfOpen, int ikeSaLimit, int maxPacket)
    {
        int halfOpen = initLimitHalfOpen != 0 ? initLimitHalfOpen : ikeSaLimit;
        return halfOpen == 0 ? null : 2L * maxPacket * halfOpen;
    }
}

using System.Net;
using System.Net.Sockets;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa;

/// <summary>
/// Operational knobs of the IKE state machine (not protocol facts). Defaults follow strongSwan's
/// charon.retransmit_* settings: timeout 4 s, base 1.8, 5 tries (about 165 s in all).
/// </summary>
public sealed record IkeTunables
{
    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromSeconds(4);
    public double RetransmitBase { get; init; } = 1.8;
    public int RetransmitTries { get; init; } = 5;

    /// <summary>charon.keep_alive: NAT-T keepalive interval of an SA behind a NAT (RFC 3948 §2.3); zero sends none.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Nonce length we send; RFC 7296 §2.10 wants at least half the PRF key size, 32 covers SHA-512.</summary>
    public int NonceLength { get; init; } = 32;

    /// <summary>charon.fragment_size(_v4): the largest IPv4 datagram (IP and UDP headers included) of a fragment we send.</summary>
    public int FragmentSizeV4 { get; init; } = 1280;

    /// <summary>charon.fragment_size(_v6): the same for IPv6.</summary>
    public int FragmentSizeV6 { get; init; } = 1280;

    /// <summary>
    /// Octets of IKE message (header included) one datagram to <paramref name="remote"/> may carry when we fragment
    /// (RFC 7383 §2.5.1): the fragment size less the IP header (20 or 40, no options), UDP (8) and the non-ESP marker
    /// (4) on UDP 4500, as strongSwan counts them.
    /// </summary>
    public int FragmentMessageLength(IPAddress remote, bool natT)
    {
        bool v4 = remote.AddressFamily == AddressFamily.InterNetwork || remote.IsIPv4MappedToIPv6;
        return (v4 ? FragmentSizeV4 - 20 : FragmentSizeV6 - 40) - 8 - (natT ? UdpEncapsulation.NonEspMarkerLength : 0);
    }

    /// <summary>Retransmission delay for attempt <paramref name="attempt"/> (0 = first send).</summary>
    public TimeSpan RetransmitDelay(int attempt) =>
        TimeSpan.FromTicks((long)(RetransmitTimeout.Ticks * Math.Pow(RetransmitBase, attempt)));

    public static IkeTunables Default { get; } = new();
}

namespace Concentrator.Ipsec;

/// <summary>How IKE and ESP share UDP (RFC 7296 §2, RFC 3948): protocol facts every receive path needs.</summary>
public static class UdpEncapsulation
{
    /// <summary>IKEv2's UDP port, RFC 7296 §2.</summary>
    public const int IkePort = 500;

    /// <summary>The NAT-T port, where IKE and ESP-in-UDP share one flow, RFC 3948 §2 and RFC 7296 §2.23.</summary>
    public const int NatTraversalPort = 4500;

    /// <summary>Length of the non-ESP marker (four zero octets) before IKE on the NAT-T port, RFC 3948 §2.2.</summary>
    public const int NonEspMarkerLength = 4;

    /// <summary>The one octet of a NAT-keepalive packet, RFC 3948 §2.3.</summary>
    public const byte NatKeepalive = 0xFF;
}

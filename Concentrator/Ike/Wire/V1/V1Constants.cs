namespace Concentrator.Ike.Wire.V1;

/// <summary>Protocol facts of ISAKMP/IKEv1, each with its RFC section.</summary>
public static class V1Constants
{
    /// <summary>RFC 2408 §3.1: the fixed header, the same 28 octets as IKEv2's (RFC 7296 §3.1).</summary>
    public const int HeaderLength = 28;

    /// <summary>RFC 2408 §3.2: Next Payload, RESERVED, Payload Length.</summary>
    public const int GenericHeaderLength = 4;

    /// <summary>RFC 2409 §1 / RFC 2408 §3.1: IKEv1 is ISAKMP major version 1, minor 0.</summary>
    public const byte MajorVersion = 1;
    public const byte MinorVersion = 0;

    /// <summary>RFC 2408 §3.1: cookies are 8 octets; an ISAKMP SPI (Delete, Notification) is both, 16.</summary>
    public const int CookieLength = 8;
    public const int IsakmpSpiLength = 16;

    /// <summary>RFC 2407 §4.4.1 (AH/ESP SPIs are 4 octets); IPComp's CPI may be sent as 2 (RFC 2407 §4.4.3).</summary>
    public const int IpsecSpiLength = 4;

    /// <summary>RFC 2409 §5: a nonce is 8 to 256 octets.</summary>
    public const int MinNonceLength = 8;
    public const int MaxNonceLength = 256;

    /// <summary>RFC 2408 §3.3: the AF bit of a data attribute (1: basic TV, 0: variable TLV).</summary>
    public const ushort AttributeFormatBasic = 0x8000;
}

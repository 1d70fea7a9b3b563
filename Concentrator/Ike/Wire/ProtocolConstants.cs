namespace Concentrator.Ike.Wire;

/// <summary>Fixed sizes and values from the RFCs. Tunables live in config, not here.</summary>
public static class ProtocolConstants
{
    /// <summary>IKE header length, RFC 7296 §3.1.</summary>
    public const int IkeHeaderLength = 28;

    /// <summary>Generic payload header length, RFC 7296 §3.2.</summary>
    public const int GenericPayloadHeaderLength = 4;

    /// <summary>IKEv2 major version, RFC 7296 §3.1.</summary>
    public const byte MajorVersion = 2;
    public const byte MinorVersion = 0;

    /// <summary>Nonce length bounds, RFC 7296 §3.9: at least 16 and at most 256 octets.</summary>
    public const int MinNonceLength = 16;
    public const int MaxNonceLength = 256;

    /// <summary>Critical bit in the generic payload header, RFC 7296 §3.2.</summary>
    public const byte CriticalFlag = 0x80;
}

namespace Concentrator.Ipsec;

// IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registries that both planes and telemetry speak:
// the exchange types and the transform IDs of the negotiated algorithms. The registries only the IKE codec
// needs live in Ike/Wire/Iana.cs. Values are protocol facts; never renumber.

/// <summary>Exchange types, RFC 7296 §3.1.</summary>
public enum ExchangeType : byte
{
    IkeSaInit = 34,
    IkeAuth = 35,
    CreateChildSa = 36,
    Informational = 37,
}

/// <summary>Transform type 1, encryption algorithms.</summary>
public enum EncrAlgorithm : ushort
{
    None = 0,
    Des = 2,
    TripleDes = 3,
    Null = 11,
    AesCbc = 12,
    AesCtr = 13,
    AesCcm8 = 14,
    AesCcm12 = 15,
    AesCcm16 = 16,
    AesGcm8 = 18,
    AesGcm12 = 19,
    AesGcm16 = 20,
    ChaCha20Poly1305 = 28,
}

/// <summary>Transform type 2, pseudo-random functions.</summary>
public enum PrfAlgorithm : ushort
{
    None = 0,
    HmacMd5 = 1,
    HmacSha1 = 2,
    AesXcbc = 4,
    HmacSha2_256 = 5,
    HmacSha2_384 = 6,
    HmacSha2_512 = 7,
    AesCmac = 8,
}

/// <summary>Transform type 3, integrity algorithms.</summary>
public enum IntegAlgorithm : ushort
{
    None = 0,
    HmacMd5_96 = 1,
    HmacSha1_96 = 2,
    AesXcbc96 = 5,
    HmacSha2_256_128 = 12,
    HmacSha2_384_192 = 13,
    HmacSha2_512_256 = 14,
}

/// <summary>Transform type 4, Diffie-Hellman (key exchange) groups.</summary>
public enum DhGroup : ushort
{
    None = 0,
    Modp768 = 1,
    Modp1024 = 2,
    Modp1536 = 5,
    Modp2048 = 14,
    Modp3072 = 15,
    Modp4096 = 16,
    Modp6144 = 17,
    Modp8192 = 18,
    Ecp256 = 19,
    Ecp384 = 20,
    Ecp521 = 21,
    Curve25519 = 31,
    Curve448 = 32,
}

/// <summary>Transform type 5, extended sequence numbers.</summary>
public enum EsnMode : ushort
{
    NoEsn = 0,
    Esn = 1,
}

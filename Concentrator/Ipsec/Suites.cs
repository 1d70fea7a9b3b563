namespace Concentrator.Ipsec;

/// <summary>Negotiated algorithms for a Child SA. Group is the PFS group (None without PFS). <see cref="Protocol"/> AH (RFC 4302):
/// integrity only, <see cref="Encryption"/> is <see cref="EncrAlgorithm.Null"/>.</summary>
public readonly record struct EspSuite(EncrAlgorithm Encryption, int KeyBits, IntegAlgorithm Integrity, DhGroup Group, bool Esn,
    IpsecProtocol Protocol = IpsecProtocol.Esp);

/// <summary>Negotiated IKE SA algorithms. <see cref="KeyBits"/> is the cipher key size without salt.</summary>
public readonly record struct IkeSuite(EncrAlgorithm Encryption, int KeyBits, PrfAlgorithm Prf, IntegAlgorithm Integrity, DhGroup Group);

namespace Concentrator.Ipsec;

/// <summary>Negotiated ESP algorithms for a Child SA. Group is the PFS group (None without PFS).</summary>
public readonly record struct EspSuite(EncrAlgorithm Encryption, int KeyBits, IntegAlgorithm Integrity, DhGroup Group, bool Esn);

/// <summary>Negotiated IKE SA algorithms. <see cref="KeyBits"/> is the cipher key size without salt.</summary>
public readonly record struct IkeSuite(EncrAlgorithm Encryption, int KeyBits, PrfAlgorithm Prf, IntegAlgorithm Integrity, DhGroup Group);

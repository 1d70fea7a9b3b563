using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Crypto;

/// <summary>Negotiated ESP algorithms for a Child SA. Group is the PFS group (None without PFS).</summary>
public readonly record struct EspSuite(EncrAlgorithm Encryption, int KeyBits, IntegAlgorithm Integrity, DhGroup Group, bool Esn);

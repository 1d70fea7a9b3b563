using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Crypto;

/// <summary>Negotiated IKE SA algorithms. <see cref="KeyBits"/> is the cipher key size without salt.</summary>
public readonly record struct IkeSuite(EncrAlgorithm Encryption, int KeyBits, PrfAlgorithm Prf, IntegAlgorithm Integrity, DhGroup Group);

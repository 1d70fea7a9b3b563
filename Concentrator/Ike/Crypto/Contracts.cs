// CONTRACT FILE: the crypto helper replaces these declarations with real implementations,
// one type per file, keeping every public signature below.
using System.Net;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Crypto;

/// <summary>Negotiated IKE SA algorithms. <see cref="KeyBits"/> is the cipher key size without salt.</summary>
public readonly record struct IkeSuite(EncrAlgorithm Encryption, int KeyBits, PrfAlgorithm Prf, IntegAlgorithm Integrity, DhGroup Group);

/// <summary>Negotiated ESP algorithms for a Child SA. Group is the PFS group (None without PFS).</summary>
public readonly record struct EspSuite(EncrAlgorithm Encryption, int KeyBits, IntegAlgorithm Integrity, DhGroup Group, bool Esn);

public static class Algorithms
{
    public static bool IsAead(EncrAlgorithm alg) => throw new NotImplementedException();
    /// <summary>Bytes of keying material for the cipher, salt included for AEADs (RFC 4106 §8.1, RFC 7634 §2).</summary>
    public static int EncryptionKeyMaterialLength(EncrAlgorithm alg, int keyBits) => throw new NotImplementedException();
    public static int IntegrityKeyLength(IntegAlgorithm alg) => throw new NotImplementedException();
    public static int IntegrityIcvLength(IntegAlgorithm alg) => throw new NotImplementedException();
    public static bool IsSupportedForIke(EncrAlgorithm alg, int keyBits) => throw new NotImplementedException();
    public static bool IsSupportedForEsp(EncrAlgorithm alg, int keyBits) => throw new NotImplementedException();
    public static bool IsSupported(PrfAlgorithm alg) => throw new NotImplementedException();
    public static bool IsSupported(IntegAlgorithm alg) => throw new NotImplementedException();
}

public sealed class Prf
{
    public static Prf Create(PrfAlgorithm algorithm) => throw new NotImplementedException();
    public PrfAlgorithm Algorithm => throw new NotImplementedException();
    public int OutputLength => throw new NotImplementedException();
    public byte[] Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => throw new NotImplementedException();
}

/// <summary>Keys of an IKE SA (RFC 7296 §2.14). Dispose zeroes them.</summary>
public sealed class IkeKeys : IDisposable
{
    public byte[] SkD { get; init; } = [];
    public byte[] SkAi { get; init; } = [];
    public byte[] SkAr { get; init; } = [];
    public byte[] SkEi { get; init; } = [];
    public byte[] SkEr { get; init; } = [];
    public byte[] SkPi { get; init; } = [];
    public byte[] SkPr { get; init; } = [];
    public void Dispose() => throw new NotImplementedException();
}

/// <summary>Child SA KEYMAT split per RFC 7296 §2.17. Dispose zeroes them.</summary>
public sealed class ChildKeys : IDisposable
{
    public byte[] EncrInitiator { get; init; } = [];
    public byte[] IntegInitiator { get; init; } = [];
    public byte[] EncrResponder { get; init; } = [];
    public byte[] IntegResponder { get; init; } = [];
    public void Dispose() => throw new NotImplementedException();
}

public static class KeyDerivation
{
    public static byte[] PrfPlus(Prf prf, ReadOnlySpan<byte> key, ReadOnlySpan<byte> seed, int length) => throw new NotImplementedException();
    public static IkeKeys DeriveIkeSaKeys(IkeSuite suite, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr, ulong spii, ulong spir) => throw new NotImplementedException();
    public static IkeKeys DeriveRekeyedIkeSaKeys(IkeSuite newSuite, PrfAlgorithm oldPrf, ReadOnlySpan<byte> oldSkD, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr, ulong spii, ulong spir) => throw new NotImplementedException();
    public static ChildKeys DeriveChildSaKeys(PrfAlgorithm prf, ReadOnlySpan<byte> skD, EspSuite suite, ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> ni, ReadOnlySpan<byte> nr) => throw new NotImplementedException();
}

public interface IKeyExchange : IDisposable
{
    DhGroup Group { get; }
    byte[] PublicValue { get; }
    /// <summary>False when the peer's value fails the RFC 6989 checks or has the wrong length.</summary>
    bool TryDeriveSharedSecret(ReadOnlySpan<byte> peerPublicValue, out byte[] sharedSecret);
}

public static class KeyExchangeFactory
{
    public static bool IsSupported(DhGroup group) => throw new NotImplementedException();
    public static int PublicValueLength(DhGroup group) => throw new NotImplementedException();
    public static IKeyExchange Create(DhGroup group) => throw new NotImplementedException();
}

/// <summary>Protects and opens SK payloads (RFC 7296 §3.14, RFC 5282 for AEAD).</summary>
public sealed class IkeMessageProtector : IDisposable
{
    public IkeMessageProtector(IkeSuite suite, IkeKeys keys, bool weAreInitiator) => throw new NotImplementedException();
    /// <summary>Builds header | SK{inner}; header.NextPayload and Length are computed here.</summary>
    public byte[] Seal(IkeHeader header, IReadOnlyList<Payload> inner) => throw new NotImplementedException();
    /// <summary>Verifies and decrypts the message's SK payload and replaces it with the inner payloads.</summary>
    public ParseStatus TryOpen(ReadOnlySpan<byte> datagram, IkeMessage message) => throw new NotImplementedException();
    public void Dispose() => throw new NotImplementedException();
}

public static class PskAuth
{
    /// <summary>RFC 7296 §2.15: prf(prf(PSK, "Key Pad for IKEv2"), signedMessage | peerNonce | prf(SK_p, idBody)).</summary>
    public static byte[] Compute(PrfAlgorithm prf, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> signedMessage, ReadOnlySpan<byte> peerNonce, ReadOnlySpan<byte> skP, ReadOnlySpan<byte> idBody) => throw new NotImplementedException();
    public static bool Verify(PrfAlgorithm prf, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> signedMessage, ReadOnlySpan<byte> peerNonce, ReadOnlySpan<byte> skP, ReadOnlySpan<byte> idBody, ReadOnlySpan<byte> received) => throw new NotImplementedException();
}

public static class NatDetection
{
    /// <summary>RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port).</summary>
    public static byte[] Hash(ulong spii, ulong spir, IPEndPoint endpoint) => throw new NotImplementedException();
}

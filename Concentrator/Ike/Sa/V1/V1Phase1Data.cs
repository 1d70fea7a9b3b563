using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;

namespace Concentrator.Ike.Sa.V1;

/// <summary>
/// What phase 1 (main or aggressive mode) keeps between its messages: the initiator's SA body (SAi_b, RFC 2409 §5),
/// our key exchange, both public values and nonces, SKEYID and, for a PSK responder, the connection whose key it chose
/// before it could read the peer's ID. Dropped (and zeroed) once phase 1 ends.
/// </summary>
public sealed class V1Phase1Data : IDisposable
{
    /// <summary>The initiator's SA payload body as sent (without its generic header): HASH_I and HASH_R cover it.</summary>
    public byte[] SaBody { get; internal set; } = [];

    public IKeyExchange? KeyExchange { get; internal set; }

    /// <summary>g^xi and g^xr as sent in the KE payloads.</summary>
    public byte[] Gxi { get; internal set; } = [];
    public byte[] Gxr { get; internal set; } = [];
    public byte[] Ni { get; internal set; } = [];
    public byte[] Nr { get; internal set; } = [];

    /// <summary>SKEYID (§5); HASH_I and HASH_R are keyed with it.</summary>
    public byte[] Skeyid { get; internal set; } = [];

    /// <summary>Responder: the connections that may be the peer's, the one whose key is used first.</summary>
    public IReadOnlyList<ConnectionConfig> Candidates { get; internal set; } = [];

    /// <summary>Our ID payload body as sent (IDii_b or IDir_b).</summary>
    public byte[] OwnIdBody { get; internal set; } = [];

    /// <summary>
    /// HASH_I (<paramref name="initiator"/>) or HASH_R over <paramref name="idBody"/> (RFC 2409 §5), keyed with SKEYID
    /// under <paramref name="prf"/>: the negotiated PRF unless the auth method fixes its own (ECDSA, RFC 4754 §4).
    /// </summary>
    public byte[] Hash(IkeV1Sa sa, bool initiator, ReadOnlySpan<byte> idBody, Prf? prf = null)
    {
        prf ??= sa.Prf!;
        Span<byte> ckyI = stackalloc byte[8];
        Span<byte> ckyR = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(ckyI, sa.CookieI);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(ckyR, sa.CookieR);
        return initiator
            ? V1KeyDerivation.HashI(prf, Skeyid, Gxi, Gxr, ckyI, ckyR, SaBody, idBody)
            : V1KeyDerivation.HashR(prf, Skeyid, Gxi, Gxr, ckyI, ckyR, SaBody, idBody);
    }

    public void Dispose()
    {
        KeyExchange?.Dispose();
        KeyExchange = null;
        CryptographicOperations.ZeroMemory(Skeyid);
        Skeyid = [];
    }
}

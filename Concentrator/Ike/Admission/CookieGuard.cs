using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Admission;

/// <summary>
/// Stateless COOKIEs for IKE_SA_INIT (RFC 7296 §2.6): Cookie = VersionIDofSecret | SHA-256(Ni | IPi | SPIi | secret).
/// The secret rotates; cookies made with the previous secret stay valid for one more period.
/// Thread-safe: the secrets are swapped atomically as an immutable pair.
/// </summary>
public sealed class CookieGuard
{
    private const int SecretLength = 32;
    private Secrets _secrets;
    private readonly TimeSpan _rotation;
    private long _rotatedAt;

    public CookieGuard(TimeSpan? rotation = null)
    {
        _rotation = rotation ?? TimeSpan.FromMinutes(2);
        _secrets = new Secrets(0, RandomNumberGenerator.GetBytes(SecretLength), RandomNumberGenerator.GetBytes(SecretLength));
        _rotatedAt = Environment.TickCount64;
    }

    public byte[] Compute(ReadOnlySpan<byte> nonceI, IPAddress initiator, ulong spiI)
    {
        MaybeRotate();
        var s = _secrets;
        return Compute(s.Version, s.Current, nonceI, initiator, spiI);
    }

    public bool Verify(ReadOnlySpan<byte> cookie, ReadOnlySpan<byte> nonceI, IPAddress initiator, ulong spiI)
    {
        if (cookie.Length != 4 + 32) return false;
        var s = _secrets;
        uint version = BinaryPrimitives.ReadUInt32BigEndian(cookie);
        byte[]? secret = version == s.Version ? s.Current : version == s.Version - 1 ? s.Previous : null;
        return secret is not null &&
               CryptographicOperations.FixedTimeEquals(cookie, Compute(version, secret, nonceI, initiator, spiI));
    }

    /// <summary>The stateless IKE_SA_INIT response carrying only N(COOKIE), responder SPI zero.</summary>
    public static byte[] BuildResponse(IkeHeader request, byte[] cookie) =>
        IkeCodec.Encode(
            new IkeHeader(request.InitiatorSpi, 0, PayloadType.None, ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion,
                ExchangeType.IkeSaInit, IkeFlags.Response, 0, 0),
            [new NotifyPayload(NotifyType.Cookie, cookie)]);

    private static byte[] Compute(uint version, byte[] secret, ReadOnlySpan<byte> nonceI, IPAddress initiator, ulong spiI)
    {
        var ip = initiator.IsIPv4MappedToIPv6 ? initiator.MapToIPv4().GetAddressBytes() : initiator.GetAddressBytes();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(nonceI);
        hash.AppendData(ip);
        Span<byte> spi = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(spi, spiI);
        hash.AppendData(spi);
        hash.AppendData(secret);
        var cookie = new byte[4 + 32];
        BinaryPrimitives.WriteUInt32BigEndian(cookie, version);
        hash.GetHashAndReset(cookie.AsSpan(4));
        return cookie;
    }

    private void MaybeRotate()
    {
        long now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _rotatedAt) < _rotation.TotalMilliseconds) return;
        Interlocked.Exchange(ref _rotatedAt, now);
        var s = _secrets;
        Interlocked.Exchange(ref _secrets, new Secrets(s.Version + 1, RandomNumberGenerator.GetBytes(SecretLength), s.Current));
    }

    private sealed record Secrets(uint Version, byte[] Current, byte[] Previous);
}

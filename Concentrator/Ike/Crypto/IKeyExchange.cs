using Concentrator.Ipsec;

namespace Concentrator.Ike.Crypto;

/// <summary>One ephemeral key pair of a Diffie-Hellman group (RFC 7296 §3.4).</summary>
public interface IKeyExchange : IDisposable
{
    DhGroup Group { get; }

    /// <summary>The Key Exchange Data as sent in the KE payload.</summary>
    byte[] PublicValue { get; }

    /// <summary>False when the peer's value fails the RFC 6989 checks or has the wrong length.</summary>
    bool TryDeriveSharedSecret(ReadOnlySpan<byte> peerPublicValue, out byte[] sharedSecret);
}

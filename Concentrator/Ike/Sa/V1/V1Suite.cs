using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa.V1;

/// <summary>
/// The phase 1 transform both ends agreed on (RFC 2409 Appendix A attributes): cipher and key length, hash (whose HMAC
/// is the PRF), Diffie-Hellman group, authentication method and lifetime in seconds (0: none given).
/// </summary>
public readonly record struct V1Suite(Phase1Encryption Encryption, int KeyBits, Phase1Hash Hash, DhGroup Group, Phase1AuthMethod AuthMethod,
    uint LifetimeSeconds)
{
    public int KeyLength => KeyBits / 8;

    /// <summary>strongSwan's proposal notation, for logs and the admin view.</summary>
    public override string ToString()
    {
        string enc = Encryption == Phase1Encryption.AesCbc ? $"AES_CBC_{KeyBits}" : Encryption == Phase1Encryption.TripleDesCbc ? "3DES_CBC" : Encryption.ToString();
        string hash = Hash switch
        {
            Phase1Hash.Sha1 => "HMAC_SHA1_96/PRF_HMAC_SHA1",
            Phase1Hash.Sha2_256 => "HMAC_SHA2_256_128/PRF_HMAC_SHA2_256",
            Phase1Hash.Sha2_384 => "HMAC_SHA2_384_192/PRF_HMAC_SHA2_384",
            Phase1Hash.Sha2_512 => "HMAC_SHA2_512_256/PRF_HMAC_SHA2_512",
            _ => Hash.ToString(),
        };
        return $"{enc}/{hash}/{Group.ToString().ToUpperInvariant()}";
    }
}

/// <summary>Which NAT traversal the two ends speak (RFC 3947, or the drafts charon still announces), from the Vendor IDs.</summary>
public enum NatTVersion
{
    None = 0,
    Draft02,
    Draft02N,
    Draft03,
    Rfc3947,
}

/// <summary>Vendor IDs the peer sent that change our behaviour (recorded in message 1 or 2).</summary>
[Flags]
public enum V1PeerFeatures
{
    None = 0,
    Dpd = 1,
    Xauth = 2,
    Unity = 4,
    Fragmentation = 8,
}

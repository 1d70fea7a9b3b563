using Concentrator.Ike.Connections;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// Our IKE proposal vocabulary as IKEv1 phase 1 transforms (RFC 2409 Appendix A) and the responder's choice. One
/// transform per (cipher, integrity → hash, group) of each configured proposal, in configuration order, as strongSwan
/// builds them; the PRF keywords are not sent (IKEv1's PRF is the hash's HMAC). Supported: AES-CBC 128/192/256 and
/// 3DES; SHA1 and SHA2-256/384/512 (RFC 4868 numbers); MODP 1024/2048/3072/4096 (1536 is in no build set) and ECP 256/384.
/// </summary>
public static class V1Phase1Proposals
{
    public static bool SupportedGroup(DhGroup g) => g is DhGroup.Modp1024 or DhGroup.Modp2048 or DhGroup.Modp3072
        or DhGroup.Modp4096 or DhGroup.Ecp256 or DhGroup.Ecp384;

    public static Phase1Hash? HashOf(IntegAlgorithm integrity) => integrity switch
    {
        IntegAlgorithm.HmacSha1_96 => Phase1Hash.Sha1,
        IntegAlgorithm.HmacSha2_256_128 => Phase1Hash.Sha2_256,
        IntegAlgorithm.HmacSha2_384_192 => Phase1Hash.Sha2_384,
        IntegAlgorithm.HmacSha2_512_256 => Phase1Hash.Sha2_512,
        _ => null,
    };

    public static Phase1Encryption? EncryptionOf(EncrAlgorithm e) => e switch
    {
        EncrAlgorithm.AesCbc => Phase1Encryption.AesCbc,
        EncrAlgorithm.TripleDes => Phase1Encryption.TripleDesCbc,
        _ => null,
    };

    /// <summary>Why a configured proposal cannot be an IKEv1 one (the loader's error), or null when every part maps.</summary>
    public static string? Unsupported(IkeProposal p)
    {
        foreach (var e in p.Encryption)
        {
            if (EncryptionOf(e.Algorithm) is null) return $"{ProposalKeywords.Name(e)} is not an IKEv1 phase 1 cipher (aes128/192/256, 3des)";
        }
        if (p.Integrity.Count == 0) return "IKEv1 phase 1 needs an integrity algorithm (sha1, sha256, sha384, sha512) for its hash";
        foreach (var i in p.Integrity)
        {
            if (HashOf(i) is null) return $"{ProposalKeywords.Name(i)} is not an IKEv1 phase 1 hash (sha1, sha256, sha384, sha512)";
        }
        foreach (var g in p.Groups)
        {
            if (!SupportedGroup(g)) return $"{ProposalKeywords.Name(g)} is not supported for IKEv1 (modp1024/2048/3072/4096, ecp256/384)";
        }
        return null;
    }

    /// <summary>Every suite <paramref name="connection"/> offers, in preference order.</summary>
    public static List<V1Suite> Suites(ConnectionConfig connection, Phase1AuthMethod auth, uint lifetime)
    {
        var suites = new List<V1Suite>();
        foreach (var p in connection.Proposals)
        {
            foreach (var e in p.Encryption)
            {
                if (EncryptionOf(e.Algorithm) is not { } enc) continue;
                foreach (var i in p.Integrity)
                {
                    if (HashOf(i) is not { } hash) continue;
                    foreach (var g in p.Groups)
                    {
                        if (!SupportedGroup(g)) continue;
                        var s = new V1Suite(enc, enc == Phase1Encryption.TripleDesCbc ? 192 : e.KeyBits, hash, g, auth, lifetime);
                        if (!suites.Contains(s)) suites.Add(s);
                    }
                }
            }
        }
        return suites;
    }

    /// <summary>The phase 1 lifetime we propose: reauth_time, else rekey_time, plus over_time (strongSwan's main_mode).</summary>
    public static uint Lifetime(ConnectionConfig c)
    {
        var t = c.ReauthTime > TimeSpan.Zero ? c.ReauthTime : c.RekeyTime;
        return t > TimeSpan.Zero ? (uint)Math.Min(uint.MaxValue, (t + c.OverTime).TotalSeconds) : 0;
    }

    /// <summary>The SA payload of an initiator: one ISAKMP proposal with one KEY_IKE transform per suite.</summary>
    public static V1SaPayload Offer(IReadOnlyList<V1Suite> suites)
    {
        var transforms = new List<V1Transform>(suites.Count);
        for (int i = 0; i < suites.Count; i++) transforms.Add(new V1Transform((byte)(i + 1), (byte)IsakmpTransformId.KeyIke, Attributes(suites[i])));
        return new V1SaPayload([new V1Proposal(1, V1ProtocolId.Isakmp, [], transforms)]);
    }

    public static List<DataAttribute> Attributes(V1Suite s)
    {
        var a = new List<DataAttribute>
        {
            DataAttribute.OfBasic((ushort)Phase1AttributeType.EncryptionAlgorithm, (ushort)s.Encryption),
        };
        if (s.Encryption == Phase1Encryption.AesCbc) a.Add(DataAttribute.OfBasic((ushort)Phase1AttributeType.KeyLength, (ushort)s.KeyBits));
        a.Add(DataAttribute.OfBasic((ushort)Phase1AttributeType.HashAlgorithm, (ushort)s.Hash));
        a.Add(DataAttribute.OfBasic((ushort)Phase1AttributeType.GroupDescription, (ushort)s.Group));
        a.Add(DataAttribute.OfBasic((ushort)Phase1AttributeType.AuthenticationMethod, (ushort)s.AuthMethod));
        if (s.LifetimeSeconds > 0)
        {
            a.Add(DataAttribute.OfBasic((ushort)Phase1AttributeType.LifeType, (ushort)LifeType.Seconds));
            a.Add(s.LifetimeSeconds <= ushort.MaxValue
                ? DataAttribute.OfBasic((ushort)Phase1AttributeType.LifeDuration, (ushort)s.LifetimeSeconds)
                : DataAttribute.OfVariable((ushort)Phase1AttributeType.LifeDuration,
                    [(byte)(s.LifetimeSeconds >> 24), (byte)(s.LifetimeSeconds >> 16), (byte)(s.LifetimeSeconds >> 8), (byte)s.LifetimeSeconds]));
        }
        return a;
    }

    /// <summary>
    /// A received KEY_IKE transform as a suite; null when it names something we do not do (an unknown attribute class,
    /// a group by its own prime, a kilobyte lifetime we cannot keep, an AES key length outside 128/192/256). AES without
    /// a Key Length is 128 (strongSwan's default).
    /// </summary>
    public static V1Suite? Parse(V1Transform t)
    {
        if (t.Id != (byte)IsakmpTransformId.KeyIke) return null;
        Phase1Encryption? enc = null;
        Phase1Hash? hash = null;
        DhGroup? group = null;
        Phase1AuthMethod? auth = null;
        int keyBits = 0;
        uint lifetime = 0;
        LifeType? lifeType = null;
        foreach (var a in t.Attributes)
        {
            if (!a.TryGetNumber(out uint v)) return null;
            switch ((Phase1AttributeType)a.Type)
            {
                case Phase1AttributeType.EncryptionAlgorithm: enc = (Phase1Encryption)v; break;
                case Phase1AttributeType.HashAlgorithm: hash = (Phase1Hash)v; break;
                case Phase1AttributeType.GroupDescription: group = (DhGroup)v; break;
                case Phase1AttributeType.AuthenticationMethod: auth = (Phase1AuthMethod)v; break;
                case Phase1AttributeType.KeyLength: keyBits = (int)v; break;
                case Phase1AttributeType.LifeType: lifeType = (LifeType)v; break;
                case Phase1AttributeType.LifeDuration:
                    if (lifeType == LifeType.Seconds) lifetime = v;
                    else if (lifeType != LifeType.Kilobytes) return null;
                    break;
                default: return null;
            }
        }
        if (enc is null || hash is null || group is null || auth is null) return null;
        if (enc == Phase1Encryption.AesCbc)
        {
            if (keyBits == 0) keyBits = 128;
            if (keyBits is not (128 or 192 or 256)) return null;
        }
        else if (enc == Phase1Encryption.TripleDesCbc)
        {
            if (keyBits is not (0 or 192)) return null;
            keyBits = 192;
        }
        else
        {
            return null;
        }
        if (hash is not (Phase1Hash.Sha1 or Phase1Hash.Sha2_256 or Phase1Hash.Sha2_384 or Phase1Hash.Sha2_512) || !SupportedGroup(group.Value)) return null;
        return new V1Suite(enc.Value, keyBits, hash.Value, group.Value, auth.Value, lifetime);
    }

    /// <summary>
    /// The responder's choice: our configured order first, the first peer transform that equals one of our suites (any
    /// lifetime) with an authentication method some authenticator fits for <paramref name="connection"/>. Returns the
    /// peer's transform (echoed as sent, RFC 2409 §5) and the suite; null: NO-PROPOSAL-CHOSEN.
    /// </summary>
    public static (V1Proposal Proposal, V1Transform Transform, V1Suite Suite)? Select(V1SaPayload offer, ConnectionConfig connection)
    {
        if (offer.Proposals.Count != 1 || offer.Proposals[0] is not { Protocol: V1ProtocolId.Isakmp } proposal) return null;
        var parsed = new List<(V1Transform, V1Suite)>();
        foreach (var t in proposal.Transforms)
        {
            if (Parse(t) is { } s && V1Authenticators.For(connection, s.AuthMethod) is not null) parsed.Add((t, s));
        }
        foreach (var ours in Suites(connection, Phase1AuthMethod.PreSharedKey, 0))
        {
            foreach (var (t, s) in parsed)
            {
                if (s.Encryption == ours.Encryption && s.KeyBits == ours.KeyBits && s.Hash == ours.Hash && s.Group == ours.Group)
                    return (proposal, t, s);
            }
        }
        return null;
    }
}

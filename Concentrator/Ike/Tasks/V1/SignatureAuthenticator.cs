using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// RSA and ECDSA signatures (RFC 2409 §5.1, RFC 4754; strongSwan's pubkey_v1_authenticator with isakmp_cert_pre/post):
/// SKEYID = prf(Ni_b | Nr_b, g^xy); the proof is [CERT...] SIG over HASH_I or HASH_R, computed with the method's PRF
/// (<see cref="V1SignatureAuth.AuthPrf"/>). CRs go out with our KE (main mode 3/4, aggressive mode 1/2); a CR of the
/// peer in any message before our proof makes send_cert ifasked send our certificate.
/// </summary>
public sealed class SignatureAuthenticator : IV1Authenticator
{
    public static readonly SignatureAuthenticator Instance = new();

    /// <summary>Both rounds pubkey and our key signs <paramref name="method"/>: IKEv1 has one method for both ends, as strongSwan's check_auth_method.</summary>
    public bool Fits(ConnectionConfig connection, Phase1AuthMethod method) =>
        V1SignatureAuth.IsSignature(method) && connection.Local.IsPubKey && connection.Remote.IsPubKey &&
        V1CertificateAuth.MethodFor(connection.Local) == method;

    public byte[]? Skeyid(IkeV1Sa sa, ConnectionConfig connection, ReadOnlySpan<byte> gxy) =>
        connection.Local.Certificate is null ? null : V1KeyDerivation.SkeyidSignature(sa.Prf!, sa.Phase1!.Ni, sa.Phase1.Nr, gxy);

    public void AddToKeyExchange(IkeV1Sa sa, List<V1Payload> payloads) =>
        payloads.AddRange(V1CertificateAuth.Requests([sa.Connection!]));

    public void ProcessKeyExchange(IkeV1Sa sa, IReadOnlyList<V1Payload> payloads) =>
        sa.PeerRequestedCertificate |= V1CertificateAuth.Requested(payloads);

    public void BuildProof(IkeV1Sa sa, ReadOnlySpan<byte> ownIdBody, List<V1Payload> payloads)
    {
        var connection = sa.Connection!;
        payloads.AddRange(V1CertificateAuth.Certificates(connection, sa.PeerRequestedCertificate));
        payloads.Add(V1CertificateAuth.Sign(connection.Local, sa.Suite.AuthMethod, Hash(sa, sa.IsInitiator, ownIdBody)));
    }

    public bool VerifyProof(IkeV1Sa sa, ReadOnlySpan<byte> peerIdBody, IReadOnlyList<V1Payload> payloads, out AuthFailure failure)
    {
        sa.PeerRequestedCertificate |= V1CertificateAuth.Requested(payloads);
        failure = AuthFailure.BadSignature;
        if (payloads.OfType<V1DataPayload>().FirstOrDefault(p => p.Type == V1PayloadType.Signature) is not { } sig)
        {
            sa.AuthDetail = "no SIG payload";
            return false;
        }
        if (V1IdPayload.TryParse(peerIdBody, out var id) != ParseStatus.Ok || V1Identities.FromPayload(id!) is not { } peer)
        {
            failure = AuthFailure.IdentityMismatch;
            sa.AuthDetail = "no usable ID payload";
            return false;
        }
        var verdict = V1CertificateAuth.Verify([sa.Connection!], payloads, peer, sa.Suite.AuthMethod, sig.Data, Hash(sa, !sa.IsInitiator, peerIdBody),
            sa.Context.Metrics);
        if (verdict.Connection is null)
        {
            failure = verdict.Failure;
            sa.AuthDetail = verdict.Detail;
            return false;
        }
        sa.AuthDetail = verdict.Subject;
        return true;
    }

    /// <summary>HASH_I (<paramref name="initiator"/>) or HASH_R with the method's PRF keyed with SKEYID (RFC 2409 §5, RFC 4754 §4).</summary>
    private static byte[] Hash(IkeV1Sa sa, bool initiator, ReadOnlySpan<byte> idBody) =>
        sa.Phase1!.Hash(sa, initiator, idBody, V1SignatureAuth.AuthPrf(sa.Suite.AuthMethod, sa.Prf!));
}

/// <summary>Registration of the signature methods and the method a pubkey connection proposes (its key's).</summary>
public static partial class V1Authenticators
{
    static partial void AddSignatures(List<IV1Authenticator> all) => all.Add(SignatureAuthenticator.Instance);

    static partial void ChooseMethod(ConnectionConfig connection, ref Phase1AuthMethod method)
    {
        if (connection.Local.IsPubKey && V1CertificateAuth.MethodFor(connection.Local) is { } signature) method = signature;
    }
}

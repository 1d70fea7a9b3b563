using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// The certificate part of IKE_SA_INIT beside <see cref="IkeInitTask"/>: SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4), sent
/// by the initiator always and by the responder when the initiator sent it (strongSwan's ike_init), and the responder's
/// CERTREQ for the CAs of the candidate connections' remote pubkey rounds (strongSwan's ike_cert_pre build_r). What the
/// peer announced is kept on the SA for IKE_AUTH.
/// </summary>
public sealed class IkeCertPreTask : IIkeTask
{
    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads) => payloads.Add(HashesNotify());

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        // A COOKIE or INVALID_KE_PAYLOAD answer carries neither; the final response does.
        if (response.Get<SaPayload>() is null) return TaskOutcome.Done;
        sa.PeerSignatureHashes = PeerHashes(response);
        sa.PeerRequestedCertificate = CertificateAuth.Requests(response);
        return TaskOutcome.Done;
    }

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        sa.PeerSignatureHashes = PeerHashes(request);
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        if (CertificateAuth.Request(sa.Candidates) is { } request) payloads.Add(request);
        if (sa.PeerSignatureHashes.Count > 0) payloads.Add(HashesNotify());
    }

    private static NotifyPayload HashesNotify() =>
        new(NotifyType.SignatureHashAlgorithms, SignatureAuth.EncodeHashes(SignatureAuth.Supported));

    private static IReadOnlyList<SignatureHash> PeerHashes(IkeMessage message) =>
        message.GetNotify(NotifyType.SignatureHashAlgorithms) is { } notify ? SignatureAuth.DecodeHashes(notify.Data) : [];
}

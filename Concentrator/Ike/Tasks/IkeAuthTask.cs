using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// IKE_AUTH identities and authentication (RFC 7296 §1.2, §2.15): each direction by its connection round, a PSK or a
/// signature with a certificate (RFC 7427, <see cref="CertificateAuth"/>), CERT and CERTREQ payloads. The first Child SA
/// rides in the same exchange as a separate <see cref="ChildCreateTask"/>. A peer that is not authenticated is counted by
/// reason (<see cref="IkeSa.AuthFailed"/>) and gets AUTHENTICATION_FAILED.
/// </summary>
public sealed class IkeAuthTask : IIkeTask
{
    private AuthPayload? _auth;
    private List<CertPayload> _certs = [];

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        var conn = sa.Connection!;
        // strongSwan: %any is no IDi, our address stands in; a remote pattern is not proposed as IDr.
        sa.LocalId = conn.Local.Identity.IsAny ? Identity.FromAddress(sa.LocalEndpoint.Address) : conn.Local.Identity;
        var remoteId = conn.Remote.Identity;
        var idi = sa.LocalId.ToPayload(PayloadType.IdInitiator);
        var auth = OwnAuth(sa, conn, sa.InitRequest, sa.NonceR, sa.Keys!.SkPi, idi, remoteId);
        if (auth is null)
        {
            sa.Fail(CloseReason.AuthFailed);
            return;
        }

        payloads.Add(idi);
        if (auth.Method != AuthMethod.SharedKeyMic) payloads.AddRange(CertificateAuth.Certificates(sa, conn));
        // strongSwan's initiator sends its CERTREQ in IKE_AUTH, for the CAs its remote round trusts.
        if (CertificateAuth.Request([conn]) is { } request) payloads.Add(request);
        if (!remoteId.ContainsWildcards) payloads.Add(remoteId.ToPayload(PayloadType.IdResponder));
        payloads.Add(auth);
        if (sa.SendInitialContact) payloads.Add(new NotifyPayload(NotifyType.InitialContact));
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        var idr = response.Get<IdPayload>(PayloadType.IdResponder);
        var auth = response.Get<AuthPayload>();
        if (idr is null || auth is null)
        {
            // Without IDr and AUTH the IKE SA itself was refused; with them, an error notify concerns
            // only the Child SA (RFC 7296 §1.2) and is the child task's business.
            if (response.GetNotify(NotifyType.AuthenticationFailed) is null) return sa.Fail(CloseReason.InvalidSyntax);
            sa.Context.Metrics.CountAuthFailure(initiator: true, AuthFailure.RefusedByPeer);
            return sa.Fail(CloseReason.AuthFailed);
        }

        var peer = Identity.FromPayload(idr);
        var conn = sa.Connection!;
        if (conn.Remote.Identity.Match(peer) == IdMatch.None)
        {
            return sa.AuthFailed(AuthFailure.IdentityMismatch, peer, $"not remote.id {conn.Remote.Identity}");
        }
        var octets = AuthOctets.Build(sa.Suite.Prf, sa.InitResponse, sa.NonceI, sa.Keys!.SkPr, idr.GetBody());
        if (conn.Remote.IsPubKey)
        {
            if (!CertificateAuth.IsSignature(auth.Method)) return sa.AuthFailed(AuthFailure.UnsupportedMethod, peer, $"{auth.Method}, remote auth is pubkey");
            var verdict = CertificateAuth.Verify([conn], response, peer, auth, octets, sa.Context.Metrics);
            if (verdict.Connection is null) return sa.AuthFailed(verdict.Failure, peer, verdict.Detail);
            if (verdict.Unverified is { } unverified) sa.Emit(new RevocationUnverified(peer.Text, unverified));
            sa.PeerCertificateSubject = verdict.Subject;
        }
        else
        {
            // The responder is verified with the key its identity selects, which is the one we signed with unless our
            // remote id is a pattern that several secrets serve.
            var psk = sa.Context.Resolver.FindSharedKey(sa.LocalId!, peer);
            bool verified = psk is not null && auth.Method == AuthMethod.SharedKeyMic &&
                PskAuth.Verify(sa.Suite.Prf, psk, sa.InitResponse, sa.NonceI, sa.Keys!.SkPr, idr.GetBody(), auth.Data);
            if (psk is not null) CryptographicOperations.ZeroMemory(psk);
            if (!verified) return sa.AuthFailed(AuthFailure.PskMismatch, peer, psk is null ? "no PSK for the identities" : $"{auth.Method} does not verify");
        }

        sa.RemoteId = peer;
        sa.MarkEstablished();
        return TaskOutcome.Done;
    }

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        // The table admits the EAP shapes of RFC 7296 §2.16 (IDi without AUTH, as Windows and iOS send when set up for
        // EAP; EAP alone; AUTH alone). No connection here authenticates a peer by EAP, so, as strongSwan does when no
        // config allows the peer's method, they are answered AUTHENTICATION_FAILED and the SA closes.
        var idi = request.Get<IdPayload>(PayloadType.IdInitiator);
        if (idi is null || request.Get<AuthPayload>() is not { } auth)
        {
            return sa.AuthFailed(AuthFailure.EapNotSupported, idi is null ? null : Identity.FromPayload(idi), "IKE_AUTH without AUTH (EAP)");
        }

        var idr = request.Get<IdPayload>(PayloadType.IdResponder);
        var peer = Identity.FromPayload(idi);
        var wantedLocal = idr is null ? null : Identity.FromPayload(idr);
        bool signature = CertificateAuth.IsSignature(auth.Method);
        if (!signature && auth.Method != AuthMethod.SharedKeyMic) return sa.AuthFailed(AuthFailure.UnsupportedMethod, peer, $"AUTH method {auth.Method}");

        // strongSwan picks the connection by identities at this point, best match first, among the address-matched
        // candidates whose proposals contain the IKE proposal IKE_SA_INIT chose and whose remote round takes the peer's
        // method. A PSK peer is verified with the best one's PSK; a certificate with each in turn until one trusts it.
        var ranked = ConnectionMatch.RankForAuth(sa.Candidates, sa.LocalEndpoint.Address, sa.RemoteEndpoint.Address, sa.Suite, peer, wantedLocal,
            signature ? AuthConfig.PubKey : AuthConfig.Psk);
        if (ranked.Count == 0) return sa.AuthFailed(AuthFailure.NoConnection, peer, signature ? "no pubkey connection for the identities" : "no psk connection for the identities");
        var octets = AuthOctets.Build(sa.Suite.Prf, sa.InitRequest, sa.NonceR, sa.Keys!.SkPi, idi.GetBody());
        ConnectionConfig conn;
        if (signature)
        {
            // OCSP requests are made by the host off this SA's thread; the request is answered when it resumes us.
            var verdict = CertificateAuth.Verify(ranked, request, peer, auth, octets, sa.Context.Metrics, mayDefer: !sa.ResumingDeferred);
            if (verdict.Fetch is { } fetch)
            {
                sa.Emit(new FetchRevocation(fetch));
                return TaskOutcome.Deferred;
            }
            if (verdict.Connection is null) return sa.AuthFailed(verdict.Failure, peer, verdict.Detail);
            if (verdict.Unverified is { } unverified) sa.Emit(new RevocationUnverified(peer.Text, unverified));
            conn = verdict.Connection;
            sa.PeerCertificateSubject = verdict.Subject;
        }
        else
        {
            conn = ranked[0];
            var psk = sa.Context.Resolver.FindSharedKey(ResponderIdentity(conn, sa, wantedLocal), peer);
            bool verified = psk is not null && PskAuth.Verify(sa.Suite.Prf, psk, sa.InitRequest, sa.NonceR, sa.Keys.SkPi, idi.GetBody(), auth.Data);
            if (psk is not null) CryptographicOperations.ZeroMemory(psk);
            if (!verified) return sa.AuthFailed(AuthFailure.PskMismatch, peer, psk is null ? "no PSK for the identities" : "PSK AUTH does not verify");
        }

        sa.Connection = conn;
        sa.LocalId = ResponderIdentity(conn, sa, wantedLocal);
        sa.RemoteId = peer;
        sa.PeerRequestedCertificate |= CertificateAuth.Requests(request);

        // Our AUTH is made now, so a round that cannot answer (no PSK for a mixed round) refuses instead of failing later.
        var ownId = sa.LocalId.ToPayload(PayloadType.IdResponder);
        _auth = OwnAuth(sa, conn, sa.InitResponse, sa.NonceI, sa.Keys.SkPr, ownId, peer);
        if (_auth is null) return sa.AuthFailed(AuthFailure.PskMismatch, peer, "no PSK of ours for the identities");
        _certs = _auth.Method == AuthMethod.SharedKeyMic ? [] : CertificateAuth.Certificates(sa, conn).ToList();
        return CheckUnique(sa, conn, peer);
    }

    /// <summary>
    /// strongSwan's check_uniqueness at the end of the responder's last authentication round: for unique keep or replace
    /// the host looks for the user's duplicates (deferred, then resumed with its answer); keep refuses a login it found
    /// one for, as AUTHENTICATION_FAILED. A peer's INITIAL_CONTACT replaces the duplicates instead (the host, when the SA
    /// is up), whatever the policy but never.
    /// </summary>
    internal static TaskOutcome CheckUnique(IkeSa sa, ConnectionConfig conn, Identity peer)
    {
        if (!UniqueRules.ChecksAtAuth(conn.Unique) || sa.InitialContact) return TaskOutcome.Done;
        if (sa.UniqueRefused is not { } refused)
        {
            sa.Emit(new CheckUniqueness(conn.Unique, conn.Name, sa.LocalId!.Text, sa.User!.Text));
            return TaskOutcome.Deferred;
        }
        return refused
            ? sa.AuthFailed(AuthFailure.UniqueKeep, peer, $"unique keep: {sa.User} has an IKE SA of {conn.Name} from another address")
            : TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        // SK {IDr, [CERT,] AUTH, ...} in RFC 7296 §1.2's order.
        payloads.Insert(0, sa.LocalId!.ToPayload(PayloadType.IdResponder));
        payloads.InsertRange(1, _certs);
        payloads.Insert(1 + _certs.Count, _auth!);
        sa.MarkEstablished();
    }

    /// <summary>
    /// Our AUTH payload: a signature with the local round's certificate (pubkey), or the PSK MIC with the secret of our
    /// identity and <paramref name="peer"/> (a fresh copy from the resolver, zeroed here). Null when we have neither.
    /// </summary>
    private static AuthPayload? OwnAuth(IkeSa sa, ConnectionConfig conn, byte[] message, byte[] peerNonce, byte[] skP, IdPayload ownId, Identity peer)
    {
        if (conn.Local.IsPubKey) return CertificateAuth.Sign(sa, conn.Local, AuthOctets.Build(sa.Suite.Prf, message, peerNonce, skP, ownId.GetBody()));
        var psk = sa.Context.Resolver.FindSharedKey(sa.LocalId!, peer);
        if (psk is null) return null;
        try
        {
            return new AuthPayload(AuthMethod.SharedKeyMic, PskAuth.Compute(sa.Suite.Prf, psk, message, peerNonce, skP, ownId.GetBody()));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(psk);
        }
    }

    /// <summary>
    /// strongSwan's ike_auth build_r: the IDr the peer asked for (it matched our configured id), else the configured id,
    /// else, when that is %any or a pattern, our IP address.
    /// </summary>
    private static Identity ResponderIdentity(ConnectionConfig conn, IkeSa sa, Identity? requested) =>
        requested ?? (conn.Local.Identity.ContainsWildcards ? Identity.FromAddress(sa.LocalEndpoint.Address) : conn.Local.Identity);
}

using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Eap;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// IKE_AUTH identities and authentication (RFC 7296 §1.2, §2.15): each direction by its connection round, a PSK or a
/// signature with a certificate (RFC 7427, <see cref="CertificateAuth"/>), CERT and CERTREQ payloads; and EAP (RFC 7296
/// §2.16) over several IKE_AUTH rounds (<see cref="TaskOutcome.NeedMore"/>): as responder the peer's, each EAP step run by
/// the host (<see cref="RunEap"/>), as initiator our own EAP-MSCHAPv2 login (<see cref="MsChapV2Client"/>). The first
/// Child SA rides in the same exchange as a separate <see cref="ChildCreateTask"/>. A peer that is not authenticated is
/// counted by reason (<see cref="IkeSa.AuthFailed"/>) and gets AUTHENTICATION_FAILED (or, refused by its EAP method, EAP-Failure).
/// </summary>
public sealed class IkeAuthTask : IIkeTask
{
    private AuthPayload? _auth;
    // The request waits for the host's unique check (CheckUniqueness); its resumption answers with that alone.
    private bool _awaitingUnique;
    private List<CertPayload> _certs = [];

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        // The later rounds of our EAP login (RFC 7296 §2.16): SK {EAP}, then SK {AUTH} made with the MSK.
        switch (_eap)
        {
            case EapPhase.AwaitingResponse:
                if (_eapOut is not null) payloads.Add(_eapOut);
                _eapOut = null;
                return;
            case EapPhase.AwaitingAuth:
                payloads.Add(_finalAuth!);
                return;
        }

        var conn = sa.Connection!;
        // strongSwan: %any is no IDi, our address stands in; a remote pattern is not proposed as IDr.
        sa.LocalId = conn.Local.Identity.IsAny ? Identity.FromAddress(sa.LocalEndpoint.Address) : conn.Local.Identity;
        var remoteId = conn.Remote.Identity;
        var idi = sa.LocalId.ToPayload(PayloadType.IdInitiator);
        AuthPayload? auth = null;
        if (conn.Local.IsEap)
        {
            // EAP-MSCHAPv2 as the client: IDi without AUTH asks for EAP; our EAP identity's password from secrets.eap-*.
            var eapId = conn.Local.EapId ?? sa.LocalId;
            if (sa.Context.Resolver.FindEapSecret(remoteId, eapId) is not { } password)
            {
                sa.Fail(CloseReason.AuthFailed);
                return;
            }
            var client = new MsChapV2Client(eapId, password);
            sa.EapClient?.Dispose();
            sa.EapClient = client;
            _idiBody = idi.GetBody();
        }
        else
        {
            auth = OwnAuth(sa, conn, sa.InitRequest, sa.NonceR, sa.Keys!.SkPi, idi, remoteId);
            if (auth is null)
            {
                sa.Fail(CloseReason.AuthFailed);
                return;
            }
        }

        payloads.Add(idi);
        if (auth is { Method: not AuthMethod.SharedKeyMic }) payloads.AddRange(CertificateAuth.Certificates(sa, conn));
        // strongSwan's initiator sends its CERTREQ in IKE_AUTH, for the CAs its remote round trusts.
        if (CertificateAuth.Request([conn]) is { } request) payloads.Add(request);
        if (!remoteId.ContainsWildcards) payloads.Add(remoteId.ToPayload(PayloadType.IdResponder));
        if (auth is not null) payloads.Add(auth);
        if (sa.SendInitialContact) payloads.Add(new NotifyPayload(NotifyType.InitialContact));
        if (conn.Local.IsEap) Move(EapPhase.AwaitingResponse);
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        switch (_eap)
        {
            case EapPhase.AwaitingResponse: return OnServerEap(sa, response);
            case EapPhase.AwaitingAuth: return OnServerFinalAuth(sa, response);
        }
        var verified = VerifyResponder(sa, response);
        if (verified != TaskOutcome.Done) return verified;
        sa.MarkEstablished();
        return TaskOutcome.Done;
    }

    /// <summary>The responder's IDr and AUTH (its certificate or PSK), in the first IKE_AUTH response, EAP or not.</summary>
    private static TaskOutcome VerifyResponder(IkeSa sa, IkeMessage response)
    {
        var idr = response.Get<IdPayload>(PayloadType.IdResponder);
        var auth = response.Get<AuthPayload>();
        if (idr is null || auth is null)
        {
            // Without IDr and AUTH the IKE SA itself was refused; with them, an error notify concerns
            // only the Child SA (RFC 7296 §1.2) and is the child task's business.
            return RefusedByResponder(sa, response);
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
        return TaskOutcome.Done;
    }

    /// <summary>Initiator: a response of the server in our EAP login; the first one also proves the responder.</summary>
    private TaskOutcome OnServerEap(IkeSa sa, IkeMessage response)
    {
        if (_idrBody.Length == 0)
        {
            var verified = VerifyResponder(sa, response);
            if (verified != TaskOutcome.Done) return verified;
            _idrBody = response.Get<IdPayload>(PayloadType.IdResponder)!.GetBody();
        }
        if (response.Get<EapPayload>() is not { } eap)
        {
            return RefusedByResponder(sa, response);
        }
        var client = (MsChapV2Client)sa.EapClient!;
        if (++_eapRounds > MaxEapRounds) return EapClientFailed(sa, $"more than {MaxEapRounds} EAP rounds");
        switch (client.Process(eap.Data))
        {
            case EapClientStep.Respond:
                _eapOut = new EapPayload(client.Response);
                return TaskOutcome.NeedMore;
            case EapClientStep.Succeeded:
                _msk = client.TakeMsk();
                var keys = sa.Keys!;
                _finalAuth = new AuthPayload(AuthMethod.SharedKeyMic, PskAuth.Compute(sa.Suite.Prf, _msk ?? keys.SkPi, sa.InitRequest, sa.NonceR, keys.SkPi, _idiBody));
                Move(EapPhase.AwaitingAuth);
                return TaskOutcome.NeedMore;
            default:
                return EapClientFailed(sa, client.FailureDetail);
        }
    }

    /// <summary>Initiator: the server's AUTH made with the MSK (§2.16), with the first Child SA and our configuration.</summary>
    private TaskOutcome OnServerFinalAuth(IkeSa sa, IkeMessage response)
    {
        try
        {
            if (response.Get<AuthPayload>() is not { } auth)
            {
                return RefusedByResponder(sa, response);
            }
            var keys = sa.Keys!;
            if (auth.Method != AuthMethod.SharedKeyMic ||
                !PskAuth.Verify(sa.Suite.Prf, _msk ?? keys.SkPr, sa.InitResponse, sa.NonceI, keys.SkPr, _idrBody, auth.Data))
            {
                return sa.AuthFailed(AuthFailure.EapAuthMismatch, sa.RemoteId, "the server's AUTH from the MSK does not verify");
            }
        }
        finally
        {
            if (_msk is not null) CryptographicOperations.ZeroMemory(_msk);
            _msk = null;
        }
        Move(EapPhase.Done);
        sa.EapClient?.Dispose();
        sa.EapClient = null;
        sa.MarkEstablished();
        return TaskOutcome.Done;
    }

    private TaskOutcome EapClientFailed(IkeSa sa, string detail)
    {
        Move(EapPhase.Failed);
        sa.CountAuthFailure(AuthFailure.EapFailed, sa.RemoteId, detail);
        return sa.Fail(CloseReason.AuthFailed);
    }

    /// <summary>A response without what the exchange needs: AUTHENTICATION_FAILED is the responder refusing us, anything
    /// else a malformed exchange.</summary>
    private static TaskOutcome RefusedByResponder(IkeSa sa, IkeMessage response)
    {
        if (response.GetNotify(NotifyType.AuthenticationFailed) is null) return sa.Fail(CloseReason.InvalidSyntax);
        sa.Context.Metrics.CountAuthFailure(initiator: true, AuthFailure.RefusedByPeer);
        return sa.Fail(CloseReason.AuthFailed);
    }

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        // The peer was authenticated before the request waited for the unique check: only its answer is new (verifying a
        // certificate again could block on OCSP and count twice).
        if (_awaitingUnique)
        {
            _awaitingUnique = false;
            return CheckUnique(sa, sa.Connection!, sa.RemoteId!);
        }

        // One task answers every round of an IKE_AUTH with EAP (RFC 7296 §2.16); the phase says which round this is.
        switch (_eap)
        {
            case EapPhase.Starting or EapPhase.Processing: return OnEapStep(sa);
            case EapPhase.AwaitingResponse: return OnEapResponse(sa, request);
            case EapPhase.AwaitingAuth: return OnFinalAuth(sa, request);
            case EapPhase.Done or EapPhase.Failed: return sa.Fail(CloseReason.InvalidSyntax);
        }

        var idi = request.Get<IdPayload>(PayloadType.IdInitiator);
        if (idi is null) return sa.AuthFailed(AuthFailure.EapNotSupported, null, "IKE_AUTH without IDi (EAP or final AUTH before any round)");
        if (request.Get<AuthPayload>() is not { } auth) return StartEap(sa, request, idi);

        var idr = request.Get<IdPayload>(PayloadType.IdResponder);
        var peer = Identity.FromPayload(idi);
        var wantedLocal = idr is null ? null : Identity.FromPayload(idr);
        bool signature = CertificateAuth.IsSignature(auth.Method);
        sa.LoginMethod = signature ? AuthConfig.PubKey : AuthConfig.Psk;
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

        var accepted = Accept(sa, conn, request, peer, wantedLocal);
        return accepted == TaskOutcome.Done ? AwaitUnique(sa, conn, peer) : accepted;
    }

    /// <summary>The peer's connection and identities are settled: our IDr and AUTH are made now, so a round that cannot
    /// answer (no PSK for a mixed round) refuses instead of failing later.</summary>
    private TaskOutcome Accept(IkeSa sa, ConnectionConfig conn, IkeMessage request, Identity peer, Identity? wantedLocal)
    {
        sa.Connection = conn;
        sa.LocalId = ResponderIdentity(conn, sa, wantedLocal);
        sa.RemoteId = peer;
        sa.PeerRequestedCertificate |= CertificateAuth.Requests(request);

        var ownId = sa.LocalId.ToPayload(PayloadType.IdResponder);
        _auth = OwnAuth(sa, conn, sa.InitResponse, sa.NonceI, sa.Keys!.SkPr, ownId, peer);
        if (_auth is null) return sa.AuthFailed(AuthFailure.PskMismatch, peer, "no PSK of ours for the identities");
        _certs = _auth.Method == AuthMethod.SharedKeyMic ? [] : CertificateAuth.Certificates(sa, conn).ToList();
        return TaskOutcome.Done;
    }

    /// <summary>
    /// strongSwan's check_uniqueness at the end of the responder's last authentication round: for unique keep or replace
    /// the host looks for the user's duplicates (deferred, then resumed with its answer); keep refuses a login it found
    /// one for, as AUTHENTICATION_FAILED. A peer's INITIAL_CONTACT replaces the duplicates instead (the host, when the SA
    /// is up), whatever the policy but never.
    /// </summary>
    private TaskOutcome AwaitUnique(IkeSa sa, ConnectionConfig conn, Identity peer)
    {
        var outcome = CheckUnique(sa, conn, peer);
        _awaitingUnique = outcome == TaskOutcome.Deferred;
        return outcome;
    }

    private static TaskOutcome CheckUnique(IkeSa sa, ConnectionConfig conn, Identity peer)
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

    // ---- Responder, EAP (RFC 7296 §2.16) ----
    //
    // Request 1: IDi without AUTH → IDr, [CERT,] AUTH, EAP(request). Then EAP ↔ EAP until the method's EAP-Success. Then the
    // peer's AUTH made with the MSK (SK_pi when the method makes none) → our AUTH made with it, and the first Child SA and
    // configuration of request 1. Each EAP step runs in the host (RunEap): the request is deferred and resumed with it.

    /// <summary>Where this task stands in an EAP conversation; <see cref="Move"/> allows only the transitions below.</summary>
    internal enum EapPhase
    {
        /// <summary>No EAP (a PSK or certificate peer), or request 1 not yet seen (sent).</summary>
        None = 0,
        /// <summary>Request 1 deferred while the host starts the session.</summary>
        Starting,
        /// <summary>Responder: an EAP request of ours is out, the peer's EAP response comes next. Initiator: IDi or an EAP
        /// response of ours is out, the server's EAP request comes next.</summary>
        AwaitingResponse,
        /// <summary>The peer's EAP response deferred while the host hands it to the session.</summary>
        Processing,
        /// <summary>EAP-Success sent (responder) or received (initiator): the other end's AUTH made with the MSK comes next.</summary>
        AwaitingAuth,
        /// <summary>The final AUTH verified: the exchange ends with this round.</summary>
        Done,
        /// <summary>The peer was refused; the SA closes with the response.</summary>
        Failed,
    }

    /// <summary>
    /// The most EAP round trips one IKE_AUTH may take. strongSwan sets none (the SA's setup time bounds it there, as
    /// half_open_timeout does here too); this bounds a peer that answers quickly forever. EAP-MSCHAPv2 takes 3, EAP-TLS
    /// with fragments of a large chain about 10-20.
    /// </summary>
    public const int MaxEapRounds = 50;

    private EapPhase _eap;
    private bool _eapFirstRound;
    private int _eapRounds;
    private byte[] _idiBody = [];
    // Initiator: the responder's IDr body, kept from the first response (proves it; its final AUTH is over it too).
    private byte[] _idrBody = [];
    private byte[]? _msk;
    private Identity? _eapId;
    private EapPayload? _eapOut;
    // The Identifier of the peer's last EAP response: an EAP-Success or -Failure of ours carries it (RFC 3748 §4.2).
    private byte _lastIdentifier;
    private AuthPayload? _finalAuth;

    private void Move(EapPhase to)
    {
        bool allowed = (_eap, to) switch
        {
            (_, EapPhase.Failed) => _eap != EapPhase.Done,
            (EapPhase.None, EapPhase.Starting) => true,
            // Initiator: IDi without AUTH sent, then the server's EAP requests, then our AUTH from the MSK.
            (EapPhase.None, EapPhase.AwaitingResponse) => true,
            (EapPhase.AwaitingResponse, EapPhase.AwaitingAuth) => true,
            (EapPhase.Starting or EapPhase.Processing, EapPhase.AwaitingResponse or EapPhase.AwaitingAuth) => true,
            (EapPhase.AwaitingResponse, EapPhase.Processing) => true,
            (EapPhase.AwaitingAuth, EapPhase.Done) => true,
            _ => false,
        };
        if (!allowed) throw new InvalidOperationException($"EAP phase {_eap} cannot move to {to}");
        _eap = to;
    }

    private TaskOutcome StartEap(IkeSa sa, IkeMessage request, IdPayload idi)
    {
        var idr = request.Get<IdPayload>(PayloadType.IdResponder);
        var peer = Identity.FromPayload(idi);
        var wantedLocal = idr is null ? null : Identity.FromPayload(idr);
        sa.LoginMethod = AuthConfig.Eap;
        // As strongSwan: a peer asking for EAP takes a connection whose remote round authenticates by EAP (any method;
        // the method itself is negotiated inside EAP, a peer without it answers Nak and is refused there).
        var ranked = ConnectionMatch.RankForAuth(sa.Candidates, sa.LocalEndpoint.Address, sa.RemoteEndpoint.Address, sa.Suite, peer, wantedLocal,
            AuthConfig.Eap);
        if (ranked.Count == 0) return sa.AuthFailed(AuthFailure.EapNotSupported, peer, "no eap connection for the identities");
        var conn = ranked[0];
        if (Accept(sa, conn, request, peer, wantedLocal) != TaskOutcome.Done) return TaskOutcome.Failed;
        var session = sa.Context.EapSessions?.Create(conn, conn.Remote, new EapPeer(sa.OurSpi, sa.LocalEndpoint, sa.RemoteEndpoint));
        if (session is null) return sa.AuthFailed(AuthFailure.EapNotSupported, peer, $"no EAP server for {conn.Remote.Auth}");
        sa.EapSession?.Dispose();
        sa.EapSession = session;
        sa.LoginMethod = session.Method;
        _idiBody = idi.GetBody();
        _eapFirstRound = true;
        // remote.eap_id: %any asks with EAP-Identity; a value is the identity to prove; none is the IKE identity (strongSwan).
        _eapId = conn.Remote.EapId is { } configured ? (configured.IsAny ? null : configured) : peer;
        Move(EapPhase.Starting);
        sa.Emit(new RunEap(session, peer, _eapId, null));
        return TaskOutcome.Deferred;
    }

    private TaskOutcome OnEapResponse(IkeSa sa, IkeMessage request)
    {
        _eapFirstRound = false;
        if (request.Get<EapPayload>() is not { } eap) return EapRefused(sa, AuthFailure.EapFailed, "IKE_AUTH without the EAP response we asked for", null);
        _lastIdentifier = eap.Data[1];
        if (++_eapRounds > MaxEapRounds) return EapRefused(sa, AuthFailure.EapFailed, $"more than {MaxEapRounds} EAP rounds", null);
        Move(EapPhase.Processing);
        sa.Emit(new RunEap(sa.EapSession!, sa.RemoteId!, _eapId, eap.Data));
        return TaskOutcome.Deferred;
    }

    /// <summary>The host's answer to the step of request 1 or of an EAP response.</summary>
    private TaskOutcome OnEapStep(IkeSa sa)
    {
        var (answered, result) = sa.TakeEapResult();
        if (!answered || result is null) return EapRefused(sa, AuthFailure.EapTimeout, answered ? "the EAP step failed" : "no EAP answer", null);
        switch (result.Kind)
        {
            case EapResultKind.Continue when result.Message is { Length: > 0 } message:
                _eapOut = new EapPayload(message);
                Move(EapPhase.AwaitingResponse);
                return TaskOutcome.NeedMore;
            case EapResultKind.Success:
                var user = result.EapIdentity ?? _eapId ?? sa.RemoteId!;
                // A configured eap_id is a pattern the proven identity must match (strongSwan's constraint check).
                if (sa.Connection!.Remote.EapId is { IsAny: false } wanted && wanted.Match(user) == IdMatch.None)
                {
                    if (result.Msk is { } refused) CryptographicOperations.ZeroMemory(refused);
                    return EapRefused(sa, AuthFailure.IdentityMismatch, $"EAP identity {user} is not eap_id {wanted}", EapPacket.Failure(_lastIdentifier));
                }
                _msk = result.Msk;
                sa.EapIdentity = user;
                sa.EapOutcome = result with { Msk = null, Message = null, EapIdentity = user };
                _eapOut = new EapPayload(result.Message is { Length: > 0 } success ? success : EapPacket.Success(_lastIdentifier));
                Move(EapPhase.AwaitingAuth);
                return TaskOutcome.NeedMore;
            default:
                if (result.Msk is { } msk) CryptographicOperations.ZeroMemory(msk);
                return EapRefused(sa, AuthFailure.EapFailed, result.FailureDetail ?? "EAP method refused the peer", result.Message);
        }
    }

    /// <summary>The peer's AUTH after EAP-Success: the PSK MIC with the MSK as the key (SK_pi when the method made none).</summary>
    private TaskOutcome OnFinalAuth(IkeSa sa, IkeMessage request)
    {
        var peer = sa.RemoteId!;
        try
        {
            if (request.Get<AuthPayload>() is not { } auth) return EapRefused(sa, AuthFailure.EapFailed, "no AUTH after EAP-Success", null);
            if (auth.Method != AuthMethod.SharedKeyMic) return EapRefused(sa, AuthFailure.UnsupportedMethod, $"AUTH method {auth.Method} after EAP", null);
            var keys = sa.Keys!;
            if (!PskAuth.Verify(sa.Suite.Prf, _msk ?? keys.SkPi, sa.InitRequest, sa.NonceR, keys.SkPi, _idiBody, auth.Data))
            {
                return EapRefused(sa, AuthFailure.EapAuthMismatch, "AUTH from the MSK does not verify", null);
            }
            var ownId = sa.LocalId!.ToPayload(PayloadType.IdResponder);
            _finalAuth = new AuthPayload(AuthMethod.SharedKeyMic, PskAuth.Compute(sa.Suite.Prf, _msk ?? keys.SkPr, sa.InitResponse, sa.NonceI, keys.SkPr, ownId.GetBody()));
        }
        finally
        {
            if (_msk is not null) CryptographicOperations.ZeroMemory(_msk);
            _msk = null;
        }
        Move(EapPhase.Done);
        sa.EapSession?.Dispose();
        sa.EapSession = null;
        // strongSwan checks uniqueness after the last round, for the user EAP proved.
        return AwaitUnique(sa, sa.Connection!, peer);
    }

    /// <summary>
    /// The peer is refused in an EAP round: counted by reason (auth failures and logins of the method), and answered with
    /// the method's EAP-Failure alone when there is one (strongSwan skips AUTHENTICATION_FAILED then), else with
    /// AUTHENTICATION_FAILED; the SA closes with the response.
    /// </summary>
    private TaskOutcome EapRefused(IkeSa sa, AuthFailure reason, string detail, byte[]? eapFailure)
    {
        if (_msk is not null) CryptographicOperations.ZeroMemory(_msk);
        _msk = null;
        Move(EapPhase.Failed);
        if (eapFailure is not { Length: > 0 }) return sa.AuthFailed(reason, sa.RemoteId, detail);
        sa.CountAuthFailure(reason, sa.RemoteId, detail);
        _eapOut = new EapPayload(eapFailure);
        sa.TaskManager.CloseAfterResponse = CloseReason.AuthFailed;
        return TaskOutcome.NeedMore;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        switch (_eap)
        {
            case EapPhase.None:
                // SK {IDr, [CERT,] AUTH, ...} in RFC 7296 §1.2's order.
                AddIdentityAndAuth(sa, payloads);
                sa.MarkEstablished();
                return;
            case EapPhase.Done:
                // §2.16: SK {AUTH, [CP,] SAr2, TSi, TSr}; the other tasks add the rest.
                payloads.Insert(0, _finalAuth!);
                sa.MarkEstablished();
                return;
            default:
                // SK {IDr, [CERT,] AUTH, EAP} in the first round, SK {EAP} in the others.
                if (_eapFirstRound) AddIdentityAndAuth(sa, payloads);
                _eapFirstRound = false;
                if (_eapOut is not null) payloads.Add(_eapOut);
                _eapOut = null;
                return;
        }
    }

    private void AddIdentityAndAuth(IkeSa sa, List<Payload> payloads)
    {
        payloads.Insert(0, sa.LocalId!.ToPayload(PayloadType.IdResponder));
        payloads.InsertRange(1, _certs);
        payloads.Insert(1 + _certs.Count, _auth!);
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

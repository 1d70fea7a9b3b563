using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// IKE_AUTH identities and PSK authentication (RFC 7296 §1.2, §2.15). The first Child SA rides in the
/// same exchange as a separate <see cref="ChildCreateTask"/>.
/// </summary>
public sealed class IkeAuthTask : IIkeTask
{
    private byte[]? _psk;

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        var conn = sa.Connection!;
        sa.LocalId = LocalIdentity(conn, sa);
        var remoteId = Identity.Parse(conn.Remote.Id);
        _psk = sa.Context.Resolver.FindSharedKey(sa.LocalId.Text, remoteId.Text);
        if (_psk is null || conn.Local.Auth != "psk")
        {
            sa.Fail(CloseReason.AuthFailed);
            return;
        }

        var idi = sa.LocalId.ToPayload(PayloadType.IdInitiator);
        payloads.Add(idi);
        if (!remoteId.IsAny) payloads.Add(remoteId.ToPayload(PayloadType.IdResponder));
        payloads.Add(new AuthPayload(AuthMethod.SharedKeyMic,
            PskAuth.Compute(sa.Suite.Prf, _psk, sa.InitRequest, sa.NonceR, sa.Keys!.SkPi, idi.GetBody())));
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
            return sa.Fail(response.GetNotify(NotifyType.AuthenticationFailed) is not null ? CloseReason.AuthFailed : CloseReason.InvalidSyntax);
        }

        var peer = Identity.FromPayload(idr);
        if (!Identity.Parse(sa.Connection!.Remote.Id).Matches(peer) || auth.Method != AuthMethod.SharedKeyMic ||
            !PskAuth.Verify(sa.Suite.Prf, _psk!, sa.InitResponse, sa.NonceI, sa.Keys!.SkPr, idr.GetBody(), auth.Data))
        {
            return sa.Fail(CloseReason.AuthFailed);
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
        if (request.Get<IdPayload>(PayloadType.IdInitiator) is not { } idi || request.Get<AuthPayload>() is not { } auth)
        {
            return sa.RejectWith(NotifyType.AuthenticationFailed, CloseReason.AuthFailed);
        }

        var idr = request.Get<IdPayload>(PayloadType.IdResponder);
        var peer = Identity.FromPayload(idi);
        var wantedLocal = idr is null ? null : Identity.FromPayload(idr);

        // strongSwan picks the connection by identities at this point; the IKE proposal was already
        // chosen in IKE_SA_INIT from the same address-matched candidates.
        foreach (var conn in sa.Candidates)
        {
            if (conn.Remote.Auth != "psk" || !Identity.Parse(conn.Remote.Id).Matches(peer)) continue;
            var local = LocalIdentity(conn, sa);
            if (wantedLocal is not null && !wantedLocal.Equals(local)) continue;

            var psk = sa.Context.Resolver.FindSharedKey(local.Text, peer.Text);
            if (psk is null) continue;
            if (auth.Method != AuthMethod.SharedKeyMic ||
                !PskAuth.Verify(sa.Suite.Prf, psk, sa.InitRequest, sa.NonceR, sa.Keys!.SkPi, idi.GetBody(), auth.Data))
            {
                return sa.RejectWith(NotifyType.AuthenticationFailed, CloseReason.AuthFailed);
            }

            sa.Connection = conn;
            sa.LocalId = local;
            sa.RemoteId = peer;
            _psk = psk;
            return TaskOutcome.Done;
        }

        return sa.RejectWith(NotifyType.AuthenticationFailed, CloseReason.AuthFailed);
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        var idr = sa.LocalId!.ToPayload(PayloadType.IdResponder);
        payloads.Insert(0, idr);
        payloads.Insert(1, new AuthPayload(AuthMethod.SharedKeyMic,
            PskAuth.Compute(sa.Suite.Prf, _psk!, sa.InitResponse, sa.NonceI, sa.Keys!.SkPr, idr.GetBody())));
        sa.MarkEstablished();
    }

    /// <summary>The configured local id, or (as strongSwan does) our IP address when none is set.</summary>
    private static Identity LocalIdentity(ConnectionConfig conn, IkeSa sa) =>
        conn.Local.Id is "" or Identity.Any ? Identity.FromAddress(sa.LocalEndpoint.Address) : Identity.Parse(conn.Local.Id);
}

using System.Security.Cryptography;
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
        // strongSwan: %any is no IDi, our address stands in; a remote pattern is not proposed as IDr.
        sa.LocalId = conn.Local.Identity.IsAny ? Identity.FromAddress(sa.LocalEndpoint.Address) : conn.Local.Identity;
        var remoteId = conn.Remote.Identity;
        _psk = sa.Context.Resolver.FindSharedKey(sa.LocalId, remoteId);
        if (_psk is null || conn.Local.Auth != "psk")
        {
            sa.Fail(CloseReason.AuthFailed);
            return;
        }

        var idi = sa.LocalId.ToPayload(PayloadType.IdInitiator);
        payloads.Add(idi);
        if (!remoteId.ContainsWildcards) payloads.Add(remoteId.ToPayload(PayloadType.IdResponder));
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

        // The responder is verified with the key its identity selects, which is the one we signed with unless our remote
        // id is a pattern that several secrets serve.
        var peer = Identity.FromPayload(idr);
        var psk = sa.Connection!.Remote.Identity.Match(peer) == IdMatch.None ? null : sa.Context.Resolver.FindSharedKey(sa.LocalId!, peer);
        bool verified = psk is not null && auth.Method == AuthMethod.SharedKeyMic &&
            PskAuth.Verify(sa.Suite.Prf, psk, sa.InitResponse, sa.NonceI, sa.Keys!.SkPr, idr.GetBody(), auth.Data);
        ZeroKeys(psk);
        if (!verified)
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

        // strongSwan picks the connection by identities at this point, best match first, among the address-matched
        // candidates whose proposals contain the IKE proposal IKE_SA_INIT chose. Its one PSK verifies the peer.
        var conn = ConnectionMatch.ForAuth(sa.Candidates, sa.LocalEndpoint.Address, sa.RemoteEndpoint.Address, sa.Suite, peer, wantedLocal);
        if (conn is null) return sa.RejectWith(NotifyType.AuthenticationFailed, CloseReason.AuthFailed);
        var local = ResponderIdentity(conn, sa, wantedLocal);
        var psk = sa.Context.Resolver.FindSharedKey(local, peer);
        if (psk is null || auth.Method != AuthMethod.SharedKeyMic ||
            !PskAuth.Verify(sa.Suite.Prf, psk, sa.InitRequest, sa.NonceR, sa.Keys!.SkPi, idi.GetBody(), auth.Data))
        {
            ZeroKeys(psk);
            return sa.RejectWith(NotifyType.AuthenticationFailed, CloseReason.AuthFailed);
        }

        sa.Connection = conn;
        sa.LocalId = local;
        sa.RemoteId = peer;
        _psk = psk;
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        var idr = sa.LocalId!.ToPayload(PayloadType.IdResponder);
        payloads.Insert(0, idr);
        payloads.Insert(1, new AuthPayload(AuthMethod.SharedKeyMic,
            PskAuth.Compute(sa.Suite.Prf, _psk!, sa.InitResponse, sa.NonceI, sa.Keys!.SkPr, idr.GetBody())));
        ZeroKeys(null);
        sa.MarkEstablished();
    }

    /// <summary>The resolver hands out copies of a PSK; each is zeroed once its AUTH payload is computed or checked.</summary>
    private void ZeroKeys(byte[]? copy)
    {
        if (copy is not null) CryptographicOperations.ZeroMemory(copy);
        if (_psk is not null) CryptographicOperations.ZeroMemory(_psk);
        _psk = null;
    }

    /// <summary>
    /// strongSwan's ike_auth build_r: the IDr the peer asked for (it matched our configured id), else the configured id,
    /// else, when that is %any or a pattern, our IP address.
    /// </summary>
    private static Identity ResponderIdentity(ConnectionConfig conn, IkeSa sa, Identity? requested) =>
        requested ?? (conn.Local.Identity.ContainsWildcards ? Identity.FromAddress(sa.LocalEndpoint.Address) : conn.Local.Identity);
}

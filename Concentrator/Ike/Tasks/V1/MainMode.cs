using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// Main mode (RFC 2409 §5, Identity Protection exchange), both roles, after strongSwan's ikev1 main_mode task with
/// isakmp_vendor and isakmp_natd folded in:
/// <code>
///   1 I→R  HDR, SA, VID...                    4 R→I  HDR, KE, Nr, NAT-D, NAT-D
///   2 R→I  HDR, SA, VID...                    5 I→R  HDR*, IDii, [CERT,] HASH_I|SIG_I   (on 4500 after a NAT)
///   3 I→R  HDR, KE, Ni, NAT-D, NAT-D          6 R→I  HDR*, IDir, [CERT,] HASH_R|SIG_R
/// </code>
/// The authentication method's <see cref="IV1Authenticator"/> supplies SKEYID and the proofs. A PSK responder picks
/// the connection (and so the key) by the peer's address before it can read the encrypted ID, then checks the ID
/// against that connection's remote identity. The message the SA waits for is told by its state and role.
/// </summary>
public sealed partial class MainMode : IV1Phase1Exchange
{
    public static readonly MainMode Instance = new();

    public V1ExchangeType Exchange => V1ExchangeType.IdentityProtection;

    public void Initiate(IkeV1Sa sa)
    {
        var conn = sa.Connection!;
        var suites = V1Phase1Proposals.Suites(conn, V1Authenticators.ProposedMethod(conn), V1Phase1Proposals.Lifetime(conn));
        if (suites.Count == 0)
        {
            sa.Fail(CloseReason.NoProposal);
            return;
        }
        var offer = V1Phase1Proposals.Offer(suites);
        sa.Phase1!.SaBody = BodyOf(offer);
        var payloads = new List<V1Payload> { offer };
        V1VendorIds.AddInitiator(sa, payloads);
        sa.Move(V1Phase1State.AwaitingSa);
        sa.Send(V1ExchangeType.IdentityProtection, 0, payloads, encrypt: false, request: true);
    }

    public void Handle(IkeV1Sa sa, V1Received message)
    {
        if (message.MessageId != 0)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.InvalidMessageId);
            return;
        }
        bool expectEncrypted = sa.State == V1Phase1State.AwaitingAuth;
        if (message.Protected != expectEncrypted)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.UnexpectedExchange);
            return;
        }
        switch (sa.IsInitiator, sa.State)
        {
            case (false, V1Phase1State.Created): ResponderSa(sa, message); break;
            case (true, V1Phase1State.AwaitingSa): InitiatorSa(sa, message); break;
            case (false, V1Phase1State.AwaitingKe): ResponderKe(sa, message); break;
            case (true, V1Phase1State.AwaitingKe): InitiatorKe(sa, message); break;
            case (false, V1Phase1State.AwaitingAuth): ResponderAuth(sa, message); break;
            case (true, V1Phase1State.AwaitingAuth): InitiatorAuth(sa, message); break;
            default: sa.Context.Metrics.CountDrop(IkeDropReason.UnexpectedExchange); break;
        }
    }

    /// <summary>Message 5 or 6 did not decrypt to a valid chain: with a PSK, the two ends hold different keys.</summary>
    public void Undecryptable(IkeV1Sa sa, V1Inbound inbound)
    {
        if (sa.State != V1Phase1State.AwaitingAuth || inbound.Header.MessageId != 0)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.IntegrityCheckFailed);
            return;
        }
        AuthFailed(sa, AuthFailure.PskMismatch, "", "message did not decrypt (a different pre-shared key?)");
    }

    // ---- Responder ----

    private static void ResponderSa(IkeV1Sa sa, V1Received m)
    {
        if (m.Find<V1SaPayload>() is not { } offer || m.All<V1SaPayload>().Count() != 1)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.BadPayloadSequence);
            sa.Fail(CloseReason.InvalidSyntax);
            return;
        }
        sa.Context.Metrics.NegotiationStarted(false, Telemetry.IkeVersion.V1);
        V1VendorIds.Process(sa, m.Payloads);
        // v1auth: a connection with aggressive: yes runs aggressive mode only (strongSwan's select_config).
        var candidates = sa.Context.Resolver.FindCandidates(m.Inbound.Local, m.Inbound.Remote).Where(c => c.Version == 1 && !c.Aggressive).ToList();
        foreach (var conn in candidates)
        {
            if (V1Phase1Proposals.Select(offer, conn) is not { } chosen) continue;
            sa.Connection = conn;
            sa.Suite = chosen.Suite;
            sa.Prf = Crypto.V1.V1KeyDerivation.PrfOf(chosen.Suite.Hash);
            sa.Phase1!.SaBody = RawBody(m.Inbound.Datagram, V1PayloadType.SecurityAssociation) ?? BodyOf(offer);
            sa.Phase1.Candidates = candidates;
            sa.CommitReceived(m);
            var reply = new V1SaPayload([chosen.Proposal with { Transforms = [chosen.Transform] }]);
            var payloads = new List<V1Payload> { reply };
            V1VendorIds.AddResponder(sa, payloads);
            sa.Move(V1Phase1State.AwaitingKe);
            sa.Send(V1ExchangeType.IdentityProtection, 0, payloads, encrypt: false, request: false);
            return;
        }
        sa.CommitReceived(m);
        V1Phase1Notify.Send(sa, V1NotifyType.NoProposalChosen);
        sa.Emit(new PeerAuthFailed(AuthFailure.NoConnection, "", candidates.Count == 0
            ? "no IKEv1 connection for this address pair"
            : "no proposal of the peer fits an IKEv1 connection for this address pair"));
        sa.Fail(candidates.Count == 0 ? CloseReason.NoConnection : CloseReason.NoProposal);
    }

    private static void ResponderKe(IkeV1Sa sa, V1Received m)
    {
        if (!TakeKe(sa, m, out var gxPeer, out var nonce)) return;
        var p1 = sa.Phase1!;
        p1.Gxi = gxPeer;
        p1.Ni = nonce;
        p1.KeyExchange = KeyExchangeFactory.Create(sa.Suite.Group);
        p1.Gxr = p1.KeyExchange.PublicValue;
        p1.Nr = sa.Context.NonceSource(sa.Context.Tunables.NonceLength);
        if (!DeriveKeys(sa, p1.Gxi)) return;
        sa.CommitReceived(m);
        V1NatDetection.Process(sa, m.Payloads, m.Inbound.Local, m.Inbound.Remote);
        AuthenticatorOf(sa)!.ProcessKeyExchange(sa, m.Payloads); // v1auth: the initiator's CR
        var payloads = new List<V1Payload> { new V1DataPayload(V1PayloadType.KeyExchange, p1.Gxr), new V1DataPayload(V1PayloadType.Nonce, p1.Nr) };
        V1NatDetection.Add(sa, payloads);
        AuthenticatorOf(sa)!.AddToKeyExchange(sa, payloads);
        sa.Move(V1Phase1State.AwaitingAuth);
        sa.Send(V1ExchangeType.IdentityProtection, 0, payloads, encrypt: false, request: false);
    }

    private static void ResponderAuth(IkeV1Sa sa, V1Received m)
    {
        if (!CheckPeer(sa, m, out var peerId)) return;
        sa.CommitReceived(m);
        sa.NoteInitialContact(m.Payloads); // v1info: RFC 2407 §4.6.3.3 in message 5
        // RFC 3947 §4: the initiator floated to 4500 after detecting a NAT; we answer where message 5 came from.
        if (m.Inbound.ViaNatT)
        {
            sa.NatT = true;
            sa.RemoteEndpoint = m.Inbound.Remote;
            sa.LocalEndpoint = m.Inbound.Local;
        }
        sa.RemoteId = peerId;
        PeerAuthenticated(sa, m);
        var payloads = OwnIdAndProof(sa);
        sa.Send(V1ExchangeType.IdentityProtection, 0, payloads, encrypt: true, request: false);
        sa.Protector!.CompletePhase1();
        Authenticated(sa);
    }

    // ---- Initiator ----

    /// <summary>The responder's single transform is one of those our connection offers (it may choose only among them).</summary>
    private static bool WeOffered(ConnectionConfig conn, V1Suite suite) =>
        V1Phase1Proposals.Suites(conn, V1Authenticators.ProposedMethod(conn), 0).Any(o => o.Encryption == suite.Encryption &&
            o.KeyBits == suite.KeyBits && o.Hash == suite.Hash && o.Group == suite.Group && o.AuthMethod == suite.AuthMethod);

    private static void InitiatorSa(IkeV1Sa sa, V1Received m)
    {
        var conn = sa.Connection!;
        if (m.Header.ResponderCookie == 0 || m.Find<V1SaPayload>() is not { Proposals: [{ Protocol: V1ProtocolId.Isakmp, Transforms: [var t] }] } ||
            V1Phase1Proposals.Parse(t) is not { } suite)
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.BadPayloadSequence);
            return;
        }
        if (!WeOffered(conn, suite))
        {
            // The responder chose something we did not offer.
            sa.Fail(CloseReason.NoProposal);
            return;
        }
        sa.CancelRequest();
        sa.CookieR = m.Header.ResponderCookie;
        sa.Suite = suite;
        sa.Prf = Crypto.V1.V1KeyDerivation.PrfOf(suite.Hash);
        V1VendorIds.Process(sa, m.Payloads);
        sa.CommitReceived(m);
        var p1 = sa.Phase1!;
        p1.KeyExchange = KeyExchangeFactory.Create(suite.Group);
        p1.Gxi = p1.KeyExchange.PublicValue;
        p1.Ni = sa.Context.NonceSource(sa.Context.Tunables.NonceLength);
        var payloads = new List<V1Payload> { new V1DataPayload(V1PayloadType.KeyExchange, p1.Gxi), new V1DataPayload(V1PayloadType.Nonce, p1.Ni) };
        V1NatDetection.Add(sa, payloads);
        if (AuthenticatorOf(sa) is not { } auth)
        {
            sa.Fail(CloseReason.NoProposal);
            return;
        }
        auth.AddToKeyExchange(sa, payloads);
        sa.Move(V1Phase1State.AwaitingKe);
        sa.Send(V1ExchangeType.IdentityProtection, 0, payloads, encrypt: false, request: true);
    }

    private static void InitiatorKe(IkeV1Sa sa, V1Received m)
    {
        if (!TakeKe(sa, m, out var gxPeer, out var nonce)) return;
        var p1 = sa.Phase1!;
        p1.Gxr = gxPeer;
        p1.Nr = nonce;
        if (!DeriveKeys(sa, p1.Gxr)) return;
        sa.CancelRequest();
        sa.CommitReceived(m);
        V1NatDetection.Process(sa, m.Payloads, m.Inbound.Local, m.Inbound.Remote);
        AuthenticatorOf(sa)!.ProcessKeyExchange(sa, m.Payloads); // v1auth: the responder's CR
        // RFC 3947 §4: with a NAT on the path the initiator moves to port 4500 from message 5 on.
        if (sa.NatDetected && sa.NatTVersion != NatTVersion.None && !sa.NatT)
        {
            sa.NatT = true;
            sa.RemoteEndpoint = new System.Net.IPEndPoint(sa.RemoteEndpoint.Address, sa.Context.NattPort);
        }
        sa.Move(V1Phase1State.AwaitingAuth);
        sa.Send(V1ExchangeType.IdentityProtection, 0, OwnIdAndProof(sa), encrypt: true, request: true);
    }

    private static void InitiatorAuth(IkeV1Sa sa, V1Received m)
    {
        if (!CheckPeer(sa, m, out var peerId)) return;
        sa.CancelRequest();
        sa.CommitReceived(m);
        sa.RemoteId = peerId;
        PeerAuthenticated(sa, m);
        sa.Protector!.CompletePhase1();
        Authenticated(sa);
    }

    // ---- Shared steps ----

    /// <summary>v1ra: a further round after phase 1 authentication (XAUTH, Mode Config): the hook moves the SA to
    /// Authenticating, starts its exchange and sets <paramref name="continued"/>; the SA is established by that round.</summary>
    static partial void ContinueAfterAuthentication(IkeV1Sa sa, ref bool continued);

    /// <summary>v1info: what else message 5 or 6 carried once the peer is authenticated (INITIAL-CONTACT, RFC 2407 §4.6.3.3).</summary>
    static partial void PeerAuthenticated(IkeV1Sa sa, V1Received message);

    /// <summary>v1info: payloads after our ID and proof in message 5 or 6 (INITIAL-CONTACT as initiator).</summary>
    static partial void AddToAuthMessage(IkeV1Sa sa, List<V1Payload> payloads);

    private static void Authenticated(IkeV1Sa sa)
    {
        bool continued = false;
        ContinueAfterAuthentication(sa, ref continued);
        if (!continued) sa.Establish(sa.Suite.ToString());
    }

    private static IV1Authenticator? AuthenticatorOf(IkeV1Sa sa) => V1Authenticators.For(sa.Connection!, sa.Suite.AuthMethod);

    /// <summary>KE and nonce of message 3 or 4: one of each, the KE of the agreed group's length.</summary>
    private static bool TakeKe(IkeV1Sa sa, V1Received m, out byte[] ke, out byte[] nonce)
    {
        ke = nonce = [];
        if (m.Data(V1PayloadType.KeyExchange) is not { } k || m.Data(V1PayloadType.Nonce) is not { } n ||
            k.Data.Length != KeyExchangeFactory.PublicValueLength(sa.Suite.Group))
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.BadPayloadSequence);
            return false;
        }
        ke = k.Data;
        nonce = n.Data;
        return true;
    }

    /// <summary>g^xy, SKEYID from the authenticator, then SKEYID_d/a/e and the cipher; false (and the SA failed) without a key or
    /// with a public value the group refuses.</summary>
    private static bool DeriveKeys(IkeV1Sa sa, byte[] peerPublic)
    {
        var p1 = sa.Phase1!;
        if (!p1.KeyExchange!.TryDeriveSharedSecret(peerPublic, out var gxy))
        {
            sa.Context.Metrics.CountDrop(IkeDropReason.BadPayloadSequence);
            sa.Fail(CloseReason.InvalidKe);
            return false;
        }
        try
        {
            if (AuthenticatorOf(sa)?.Skeyid(sa, sa.Connection!, gxy) is not { } skeyid)
            {
                sa.Emit(new PeerAuthFailed(AuthFailure.NoConnection, "", $"no pre-shared key or credential for connection {sa.Connection!.Name}"));
                sa.Fail(CloseReason.AuthFailed);
                return false;
            }
            p1.Skeyid = skeyid;
            sa.DeriveKeys(gxy);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(gxy);
        }
    }

    /// <summary>Our ID and proof (message 5 or 6).</summary>
    private static List<V1Payload> OwnIdAndProof(IkeV1Sa sa)
    {
        var local = V1Identities.Local(sa, sa.Connection!);
        sa.LocalId = local;
        var id = V1Identities.ToPayload(local);
        var body = V1Identities.Body(id);
        sa.Phase1!.OwnIdBody = body;
        var payloads = new List<V1Payload> { id };
        AuthenticatorOf(sa)!.BuildProof(sa, body, payloads);
        AddToAuthMessage(sa, payloads);
        return payloads;
    }

    /// <summary>Message 5 or 6: the peer's ID names the connection's remote identity and its proof verifies.</summary>
    private static bool CheckPeer(IkeV1Sa sa, V1Received m, out Identity peerId)
    {
        peerId = null!;
        if (m.Find<V1IdPayload>() is not { } id || V1Identities.FromPayload(id) is not { } identity)
        {
            AuthFailed(sa, AuthFailure.IdentityMismatch, "", "no usable ID payload");
            return false;
        }
        if (sa.Connection!.Remote.Identity.Match(identity) == IdMatch.None)
        {
            AuthFailed(sa, AuthFailure.IdentityMismatch, identity.Text, $"identity does not match connection {sa.Connection.Name}");
            return false;
        }
        if (!AuthenticatorOf(sa)!.VerifyProof(sa, V1Identities.Body(id), m.Payloads, out var failure))
        {
            AuthFailed(sa, failure, identity.Text, sa.AuthDetail ?? "HASH does not verify (a different pre-shared key?)");
            return false;
        }
        peerId = identity;
        return true;
    }

    private static void AuthFailed(IkeV1Sa sa, AuthFailure reason, string peer, string detail)
    {
        sa.Context.Metrics.CountAuthFailure(sa.IsInitiator, reason);
        sa.Emit(new PeerAuthFailed(reason, peer, detail));
        sa.Fail(CloseReason.AuthFailed);
    }

    internal static byte[] BodyOf(V1Payload payload)
    {
        var buffer = new byte[payload.BodyLength];
        var w = new Wire.SpanWriter(buffer);
        payload.WriteBody(ref w);
        return buffer;
    }

    /// <summary>The body of the first payload of <paramref name="type"/> in a cleartext datagram, as the peer sent it (what HASH_I covers).</summary>
    internal static byte[]? RawBody(byte[] datagram, V1PayloadType type)
    {
        var next = (V1PayloadType)datagram[16];
        int at = V1Constants.HeaderLength;
        while (next != V1PayloadType.None && at + V1Constants.GenericHeaderLength <= datagram.Length)
        {
            int length = (datagram[at + 2] << 8) | datagram[at + 3];
            if (length < V1Constants.GenericHeaderLength || at + length > datagram.Length) return null;
            if (next == type) return datagram.AsSpan(at + V1Constants.GenericHeaderLength, length - V1Constants.GenericHeaderLength).ToArray();
            next = (V1PayloadType)datagram[at];
            at += length;
        }
        return null;
    }
}

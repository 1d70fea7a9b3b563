using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

public sealed partial class MainMode
{
    /// <summary>
    /// Aggressive mode (RFC 2409 §5, exchange 4), both roles, after strongSwan's ikev1 aggressive_mode task; it shares
    /// main mode's key derivation, authenticators, NAT-D and vendor IDs:
    /// <code>
    ///   1 I→R  HDR, SA, KE, Ni, IDii, [CR,] VID...
    ///   2 R→I  HDR, SA, KE, Nr, IDir, [CERT,] [CR,] VID..., NAT-D, NAT-D, HASH_R|SIG_R
    ///   3 I→R  HDR*, [CERT,] HASH_I|SIG_I, NAT-D, NAT-D                  (encrypted, as strongSwan sends it)
    /// </code>
    /// Only connections with <c>aggressive: yes</c> take part (as strongSwan's select_config, which also keeps them out of
    /// main mode): the responder picks one by the cleartext IDii of message 1, and <see cref="AggressiveGate"/> refuses
    /// the first message before any state exists when none matches. The responder retransmits message 2 until message 3.
    /// </summary>
    public sealed class Aggressive : IV1Phase1Exchange
    {
        public static readonly Aggressive Instance = new();

        public V1ExchangeType Exchange => V1ExchangeType.Aggressive;

        public void Initiate(IkeV1Sa sa)
        {
            var conn = sa.Connection!;
            var all = V1Phase1Proposals.Suites(conn, V1Authenticators.ProposedMethod(conn), V1Phase1Proposals.Lifetime(conn));
            // One KE in message 1: every transform offered must use its group (RFC 2409 §5).
            var suites = all.Count == 0 ? all : all.Where(s => s.Group == all[0].Group).ToList();
            if (suites.Count == 0 || V1Authenticators.For(conn, suites[0].AuthMethod) is not { } auth)
            {
                sa.Fail(CloseReason.NoProposal);
                return;
            }
            var offer = V1Phase1Proposals.Offer(suites);
            var p1 = sa.Phase1!;
            p1.SaBody = BodyOf(offer);
            p1.KeyExchange = KeyExchangeFactory.Create(suites[0].Group);
            p1.Gxi = p1.KeyExchange.PublicValue;
            p1.Ni = sa.Context.NonceSource(sa.Context.Tunables.NonceLength);
            var local = V1Identities.Local(sa, conn);
            sa.LocalId = local;
            var id = V1Identities.ToPayload(local);
            p1.OwnIdBody = V1Identities.Body(id);
            var payloads = new List<V1Payload>
            {
                offer, new V1DataPayload(V1PayloadType.KeyExchange, p1.Gxi), new V1DataPayload(V1PayloadType.Nonce, p1.Ni), id,
            };
            // The suite is not agreed yet; the authenticator's CR depends only on the connection.
            auth.AddToKeyExchange(sa, payloads);
            V1VendorIds.AddInitiator(sa, payloads);
            sa.Move(V1Phase1State.AwaitingAuth);
            sa.Send(V1ExchangeType.Aggressive, 0, payloads, encrypt: false, request: true);
        }

        public void Handle(IkeV1Sa sa, V1Received message)
        {
            if (message.MessageId != 0)
            {
                sa.Context.Metrics.CountDrop(IkeDropReason.InvalidMessageId);
                return;
            }
            switch (sa.IsInitiator, sa.State, message.Protected)
            {
                case (false, V1Phase1State.Created, false): Responder1(sa, message); break;
                case (true, V1Phase1State.AwaitingAuth, false): Initiator2(sa, message); break;
                case (false, V1Phase1State.AwaitingAuth, true): Responder3(sa, message); break;
                default: sa.Context.Metrics.CountDrop(IkeDropReason.UnexpectedExchange); break;
            }
        }

        /// <summary>Message 3 did not decrypt: with a PSK the two ends hold different keys.</summary>
        public void Undecryptable(IkeV1Sa sa, V1Inbound inbound)
        {
            if (sa.IsInitiator || sa.State != V1Phase1State.AwaitingAuth || inbound.Header.MessageId != 0)
            {
                sa.Context.Metrics.CountDrop(IkeDropReason.IntegrityCheckFailed);
                return;
            }
            AuthFailed(sa, AuthFailure.PskMismatch, sa.RemoteId?.Text ?? "", "message 3 did not decrypt (a different pre-shared key?)");
        }

        private static void Responder1(IkeV1Sa sa, V1Received m)
        {
            var first = AggressiveGate.Check(m.Payloads, sa.Context.Resolver.FindCandidates(m.Inbound.Local, m.Inbound.Remote));
            if (first.Connection is not { } conn || first.Chosen is not { } chosen || first.PeerId is not { } peerId)
            {
                // The supervisor's gate refuses these before an SA exists; an SA handed one anyway ends without a reply.
                sa.Context.Metrics.CountDrop(IkeDropReason.AggressiveModeRefused);
                sa.Fail(CloseReason.NoConnection);
                return;
            }
            sa.Context.Metrics.NegotiationStarted(false, Telemetry.IkeVersion.V1);
            V1VendorIds.Process(sa, m.Payloads);
            sa.Connection = conn;
            sa.Suite = chosen.Suite;
            sa.Prf = Crypto.V1.V1KeyDerivation.PrfOf(chosen.Suite.Hash);
            var p1 = sa.Phase1!;
            p1.SaBody = RawBody(m.Inbound.Datagram, V1PayloadType.SecurityAssociation) ?? BodyOf(first.Offer!);
            p1.Candidates = [conn];
            if (!TakeKe(sa, m, out var gxi, out var ni))
            {
                sa.Fail(CloseReason.InvalidSyntax);
                return;
            }
            p1.Gxi = gxi;
            p1.Ni = ni;
            p1.KeyExchange = KeyExchangeFactory.Create(sa.Suite.Group);
            p1.Gxr = p1.KeyExchange.PublicValue;
            p1.Nr = sa.Context.NonceSource(sa.Context.Tunables.NonceLength);
            sa.PeerIdBody = first.PeerIdBody;
            sa.RemoteId = peerId;
            if (!DeriveKeys(sa, p1.Gxi)) return;
            sa.CommitReceived(m);
            var auth = AuthenticatorOf(sa)!;
            auth.ProcessKeyExchange(sa, m.Payloads);

            var local = V1Identities.Local(sa, conn);
            sa.LocalId = local;
            var id = V1Identities.ToPayload(local);
            p1.OwnIdBody = V1Identities.Body(id);
            var payloads = new List<V1Payload>
            {
                new V1SaPayload([chosen.Proposal with { Transforms = [chosen.Transform] }]),
                new V1DataPayload(V1PayloadType.KeyExchange, p1.Gxr), new V1DataPayload(V1PayloadType.Nonce, p1.Nr), id,
            };
            auth.AddToKeyExchange(sa, payloads);
            V1VendorIds.AddResponder(sa, payloads);
            V1NatDetection.Add(sa, payloads);
            auth.BuildProof(sa, p1.OwnIdBody, payloads);
            sa.Move(V1Phase1State.AwaitingAuth);
            // The initiator's message 3 ends the exchange: message 2 is resent until it comes.
            sa.Send(V1ExchangeType.Aggressive, 0, payloads, encrypt: false, request: true);
        }

        private static void Initiator2(IkeV1Sa sa, V1Received m)
        {
            var conn = sa.Connection!;
            var p1 = sa.Phase1!;
            if (m.Header.ResponderCookie == 0 || m.Find<V1SaPayload>() is not { Proposals: [{ Protocol: V1ProtocolId.Isakmp, Transforms: [var t] }] } ||
                V1Phase1Proposals.Parse(t) is not { } suite || m.Find<V1IdPayload>() is not { } idr || V1Identities.FromPayload(idr) is not { } peerId)
            {
                sa.Context.Metrics.CountDrop(IkeDropReason.BadPayloadSequence);
                return;
            }
            if (suite.Group != p1.KeyExchange!.Group || !WeOffered(conn, suite))
            {
                sa.Fail(CloseReason.NoProposal);
                return;
            }
            sa.CookieR = m.Header.ResponderCookie;
            sa.Suite = suite;
            sa.Prf = Crypto.V1.V1KeyDerivation.PrfOf(suite.Hash);
            if (!TakeKe(sa, m, out var gxr, out var nr)) return;
            if (conn.Remote.Identity.Match(peerId) == IdMatch.None)
            {
                AuthFailed(sa, AuthFailure.IdentityMismatch, peerId.Text, $"identity does not match connection {conn.Name}");
                return;
            }
            p1.Gxr = gxr;
            p1.Nr = nr;
            V1VendorIds.Process(sa, m.Payloads);
            if (!DeriveKeys(sa, p1.Gxr)) return;
            var auth = AuthenticatorOf(sa)!;
            auth.ProcessKeyExchange(sa, m.Payloads);
            if (!auth.VerifyProof(sa, V1Identities.Body(idr), m.Payloads, out var failure))
            {
                AuthFailed(sa, failure, peerId.Text, sa.AuthDetail ?? "HASH_R does not verify (a different pre-shared key?)");
                return;
            }
            sa.CancelRequest();
            sa.CommitReceived(m);
            sa.RemoteId = peerId;
            V1NatDetection.Process(sa, m.Payloads, m.Inbound.Local, m.Inbound.Remote);
            // RFC 3947 §4: with a NAT on the path the initiator moves to port 4500 for message 3.
            if (sa.NatDetected && sa.NatTVersion != NatTVersion.None && !sa.NatT)
            {
                sa.NatT = true;
                sa.RemoteEndpoint = new System.Net.IPEndPoint(sa.RemoteEndpoint.Address, sa.Context.NattPort);
            }
            var payloads = new List<V1Payload>();
            auth.BuildProof(sa, p1.OwnIdBody, payloads);
            V1NatDetection.Add(sa, payloads);
            sa.Send(V1ExchangeType.Aggressive, 0, payloads, encrypt: true, request: false);
            sa.Protector!.CompletePhase1();
            Authenticated(sa);
        }

        private static void Responder3(IkeV1Sa sa, V1Received m)
        {
            if (!AuthenticatorOf(sa)!.VerifyProof(sa, sa.PeerIdBody, m.Payloads, out var failure))
            {
                AuthFailed(sa, failure, sa.RemoteId?.Text ?? "", sa.AuthDetail ?? "HASH_I does not verify (a different pre-shared key?)");
                return;
            }
            sa.CancelRequest();
            sa.CommitReceived(m);
            V1NatDetection.Process(sa, m.Payloads, m.Inbound.Local, m.Inbound.Remote);
            if (m.Inbound.ViaNatT)
            {
                sa.NatT = true;
                sa.RemoteEndpoint = m.Inbound.Remote;
                sa.LocalEndpoint = m.Inbound.Local;
            }
            sa.Protector!.CompletePhase1();
            Authenticated(sa);
        }
    }
}

/// <summary>Registration of aggressive mode, and the initiator's choice of it for <c>aggressive: yes</c> (as swanctl).</summary>
public static partial class V1Exchanges
{
    static partial void AddAggressiveMode(Registry registry) => registry.Add(MainMode.Aggressive.Instance);

    static partial void ChoosePhase1(ConnectionConfig connection, ref IV1Phase1Exchange? chosen)
    {
        if (connection.Aggressive) chosen = MainMode.Aggressive.Instance;
    }
}

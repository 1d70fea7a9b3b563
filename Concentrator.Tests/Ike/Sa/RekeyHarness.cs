using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>Two directly wired IKE SAs hosted as the actor hosts them (current + retiring), for rekey and collision tests.</summary>
internal static class RekeyHarness
{
    public static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    public static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);

    /// <summary>One end: the current IKE SA plus rekeyed predecessors still finishing their Delete (as the actor hosts them).</summary>
    public sealed class Side(IkeSa sa, InMemoryDataPlane plane, IPEndPoint self)
    {
        public IkeSaLineage Lineage { get; } = new(sa);
        public IkeSa Sa => Lineage.Current;
        public IReadOnlyList<IkeSa> Retiring => Lineage.Retiring;
        public InMemoryDataPlane Plane { get; } = plane;
        public IPEndPoint Self { get; } = self;
        public List<IkeEffect> Seen { get; } = new();

        /// <summary>Inbound SPIs allowed to send (installed with OutboundActive, or activated later), as the data plane keeps them.</summary>
        public HashSet<uint> OutboundActive { get; } = new();

        public List<SendMessage> Drain()
        {
            var sends = new List<SendMessage>();
            // Until quiet: handling an effect can add an SA (successor, redundant) whose own effects are pending.
            for (bool progress = true; progress;)
            {
                progress = false;
                foreach (var sa in Lineage.All.ToList())
                {
                    var effects = sa.DrainEffects();
                    progress |= effects.Count > 0;
                    Seen.AddRange(effects);
                    foreach (var e in effects) Apply(sa, e, sends);
                }
            }
            return sends;
        }

        private void Apply(IkeSa sa, IkeEffect e, List<SendMessage> sends)
        {
            switch (e)
            {
                case ChildSaEstablished c:
                    Plane.AddSa(c.Install);
                    if (c.Install.OutboundActive) OutboundActive.Add(c.Install.InboundSpi);
                    break;
                case ChildSaActivated a:
                    OutboundActive.Add(a.InboundSpi);
                    break;
                case ChildSaRemoved r:
                    Plane.DeleteSa(r.InboundSpi);
                    OutboundActive.Remove(r.InboundSpi);
                    break;
                case IkeSaRekeyed k:
                    Lineage.Rekeyed(sa, k.Successor);
                    break;
                case IkeSaRedundant d:
                    Lineage.AddRedundant(d.Sa);
                    break;
                case IkeSaClosed:
                    Lineage.Retire(sa);
                    break;
                case SendMessage m:
                    sends.Add(m);
                    break;
                case RunEap eap:
                    // As IkeSaActor, waiting here: the EAP step, then the deferred IKE_AUTH answered with its result.
                    var step = eap.Response is null
                        ? eap.Session.StartAsync(eap.PeerIdentity, eap.EapId, CancellationToken.None)
                        : eap.Session.ProcessAsync(eap.Response, CancellationToken.None);
                    sa.ResumeEap(step.AsTask().GetAwaiter().GetResult());
                    break;
                case FetchRevocation f:
                    // As IkeSaActor, waiting here: the requests, then the deferred IKE_AUTH answered.
                    f.Fetch.Checker.FetchAsync(f.Fetch, sa.Context.Metrics).GetAwaiter().GetResult();
                    sa.ResumeDeferredRequest();
                    break;
            }
        }

        /// <summary>Every further nonce of this end starts with the next of <paramref name="firstBytes"/> (then random):
        /// decides the lowest-nonce rule of a collision (RFC 7296 §2.8.1).</summary>
        public void NoncesStartingWith(params byte[] firstBytes)
        {
            var queue = new Queue<byte>(firstBytes);
            Sa.Context.NonceSource = n =>
            {
                var nonce = System.Security.Cryptography.RandomNumberGenerator.GetBytes(n);
                if (queue.Count > 0) nonce[0] = queue.Dequeue();
                return nonce;
            };
        }

        public void Receive(byte[] datagram, IPEndPoint from)
        {
            Concentrator.Ike.Wire.IkeHeader.TryParse(datagram, out var h);
            Lineage.Route(IkeSaLineage.RecipientSpi(h)).HandleDatagram(datagram, from, Self, false);
        }
    }

    /// <summary>Runs every queued message back and forth until both sides are quiet.</summary>
    public static void Pump(Side a, Side b)
    {
        for (int round = 0; round < 20; round++)
        {
            var fromA = a.Drain();
            var fromB = b.Drain();
            if (fromA.Count == 0 && fromB.Count == 0) return;
            foreach (var m in fromA) b.Receive(m.Datagram, a.Self);
            foreach (var m in fromB) a.Receive(m.Datagram, b.Self);
        }
        Assert.Fail("the exchange did not settle within 20 rounds");
    }

    /// <param name="initiatorEsp">The initiator's esp_proposals (default: the test gateways').</param>
    /// <param name="responderEsp">The responder's esp_proposals.</param>
    public static (Side I, Side R) Established(string initiatorEsp = "aes256gcm16", string responderEsp = "aes256gcm16") =>
        EstablishedWith(Testbed.Support.TestGateway.InitiatorYaml(esp: initiatorEsp), Testbed.Support.TestGateway.ResponderYaml(esp: responderEsp));

    /// <summary>As <see cref="Established"/> with configs of the test's own: the initiator's connection "site", the responder's any.</summary>
    public static (Side I, Side R) EstablishedWith(string initiatorYaml, string responderYaml)
    {
        var rConfig = ConcentratorConfig.Parse(responderYaml, "<r>");
        var iConfig = ConcentratorConfig.Parse(initiatorYaml, "<i>");
        var rPlane = new InMemoryDataPlane();
        var iPlane = new InMemoryDataPlane();
        var i = new Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane },
            iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, InitiatorEp, ResponderEp), iPlane, InitiatorEp);
        var r = new Side(IkeSa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane },
            0x0A0B_0C0D_0E0F_1011, 0x2122_2324_2526_2728, ResponderEp, InitiatorEp, natT: false), rPlane, ResponderEp);
        i.Sa.Initiate();
        Pump(i, r);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        return (i, r);
    }
}

using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>Two IKEv1 SAs that ran main mode with PSK against each other (no actor): the ends the informational tests use.</summary>
internal sealed class V1Pair
{
    public static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    public static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);

    public static string Yaml(string localId, string remoteId, string extra = "") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            version: 1
            remote_addrs: ["%any"]
            proposals: [aes256-sha256-modp2048]
            local: { auth: psk, id: {{localId}} }
            remote: { auth: psk, id: {{remoteId}} }
        {{extra}}    children:
              net:
                local_ts: [10.200.1.0/24]
                remote_ts: [10.10.0.0/16]
                esp_proposals: [aes128-sha256]
        secrets:
          site: { id: [site.test, gw.test], secret: "test-shared-key-0123456789" }
        """;

    public IkeV1Sa I { get; }
    public IkeV1Sa R { get; }
    
    public V1Pair(string responderExtra = "", string initiatorExtra = "")
    {
        var iConfig = ConcentratorConfig.Parse(Yaml("site.test", "gw.test", initiatorExtra), "<i>");
        var rConfig = ConcentratorConfig.Parse(Yaml("gw.test", "site.test", responderExtra), "<r>");
        I = IkeV1Sa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane() },
            iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, InitiatorEp, ResponderEp);
        R = IkeV1Sa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = new InMemoryDataPlane() },
            0x0A0B_0C0D_0E0F_1011, 0x2122_2324_2526_2728, ResponderEp, InitiatorEp, natT: false);
        I.Initiate();
        for (int round = 0; round < 10; round++)
        {
            if (Deliver(I, R, InitiatorEp, ResponderEp).Count + Deliver(R, I, ResponderEp, InitiatorEp).Count == 0) break;
        }
        if (I.State != V1Phase1State.Established || R.State != V1Phase1State.Established)
        {
            throw new InvalidOperationException($"main mode did not complete: initiator {I.State}, responder {R.State}");
        }
    }

    /// <summary>Hands every datagram <paramref name="from"/> has to send to <paramref name="to"/>; returns all effects drained from the sender.</summary>
    public static List<SendMessage> Deliver(IkeV1Sa from, IkeV1Sa to, IPEndPoint fromEp, IPEndPoint toEp)
    {
        var sent = from.DrainEffects().OfType<SendMessage>().ToList();
        foreach (var m in sent) Receive(to, m.Datagram, fromEp, toEp);
        return sent;
    }

    public static void Receive(IkeV1Sa to, byte[] datagram, IPEndPoint fromEp, IPEndPoint toEp)
    {
        if (IsakmpHeader.TryParse(datagram, out var header) != ParseStatus.Ok) throw new InvalidOperationException("unparseable datagram");
        to.HandleDatagram(new V1Inbound(datagram, header, fromEp, toEp, ViaNatT: false));
    }
}

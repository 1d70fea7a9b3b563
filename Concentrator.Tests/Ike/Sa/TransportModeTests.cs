using System.Buffers.Binary;
using System.Net;
using Concentrator.Cluster.Replication;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Sa.RekeyHarness;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// USE_TRANSPORT_MODE (RFC 7296 §1.3.1) between two directly wired IKE SAs, with strongSwan's rules: transport only when
/// both children say transport and the selectors are the IKE endpoints; a responder otherwise answers tunnel and the
/// initiator accepts it; a rekey keeps the mode; and the transport-mode SAs carry a packet between the two in-memory planes.
/// </summary>
public sealed class TransportModeTests
{
    private static string Initiator(string mode, string localTs = "", string remoteTs = "") => $$"""
        connections:
          site:
            remote_addrs: [192.0.2.2]
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: site.test }
            remote: { auth: psk, id: gw.test }
            children:
              net:
                mode: {{mode}}
                {{(localTs.Length > 0 ? $"local_ts: [{localTs}]" : "")}}
                {{(remoteTs.Length > 0 ? $"remote_ts: [{remoteTs}]" : "")}}
                esp_proposals: [aes256gcm16]
        secrets:
          site: { secret: "test-shared-key-0123456789" }
        """;

    private static string Responder(string mode, string localTs = "", string remoteTs = "") => $$"""
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "%any" }
            children:
              lan:
                mode: {{mode}}
                {{(localTs.Length > 0 ? $"local_ts: [{localTs}]" : "")}}
                {{(remoteTs.Length > 0 ? $"remote_ts: [{remoteTs}]" : "")}}
                esp_proposals: [aes256gcm16]
        secrets:
          rw: { secret: "test-shared-key-0123456789" }
        """;

    private static ChildSaInstall Install(Side side) => side.Seen.OfType<ChildSaEstablished>().Last().Install;

    [Fact]
    public void Both_transport_host_to_host_negotiates_transport_and_a_rekey_keeps_it()
    {
        var (i, r) = EstablishedWith(Initiator("transport"), Responder("transport"));
        Assert.Equal(IpsecMode.Transport, Install(i).Mode);
        Assert.Equal(IpsecMode.Transport, Install(r).Mode);
        Assert.Equal(IpsecMode.Transport, i.Sa.Children.Single().Mode);
        Assert.Equal(IpsecMode.Transport, r.Sa.Children.Single().Mode);

        var old = i.Sa.Children.Single().InboundSpi;
        Assert.True(i.Sa.RekeyChild(old));
        Pump(i, r);
        var successorI = i.Sa.Children.Single();
        Assert.NotEqual(old, successorI.InboundSpi);
        Assert.Equal(IpsecMode.Transport, successorI.Mode);
        Assert.Equal(IpsecMode.Transport, r.Sa.Children.Single().Mode);
        Assert.Equal(IpsecMode.Transport, Install(i).Mode);
        Assert.Equal(IpsecMode.Transport, Install(r).Mode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_end_whose_own_address_is_translated_gets_tunnel_mode_on_rekey(bool initiatorBehindNat)
    {
        var (i, r) = EstablishedWith(Initiator("transport"), Responder("transport"));
        Assert.Equal(IpsecMode.Transport, i.Sa.Children.Single().Mode);
        // Inner checksums cover the addresses a NAT rewrites: the translated end neither asks for nor answers transport.
        (initiatorBehindNat ? i : r).Sa.BehindNat = true;
        Assert.True(i.Sa.RekeyChild(i.Sa.Children.Single().InboundSpi));
        Pump(i, r);
        Assert.Equal(IpsecMode.Tunnel, i.Sa.Children.Single().Mode);
        Assert.Equal(IpsecMode.Tunnel, r.Sa.Children.Single().Mode);
    }

    [Theory]
    [InlineData("transport", "tunnel")]   // the responder answers tunnel; the initiator accepts it (strongSwan)
    [InlineData("tunnel", "transport")]   // nobody asked for transport
    [InlineData("tunnel", "tunnel")]
    public void Anything_but_both_transport_is_tunnel(string initiatorMode, string responderMode)
    {
        var (i, r) = EstablishedWith(Initiator(initiatorMode), Responder(responderMode));
        Assert.Single(i.Sa.Children);
        Assert.Equal(IpsecMode.Tunnel, Install(i).Mode);
        Assert.Equal(IpsecMode.Tunnel, Install(r).Mode);
    }

    [Fact]
    public void Selectors_that_are_not_the_ike_endpoints_get_tunnel_mode()
    {
        var (i, r) = EstablishedWith(Initiator("transport", "10.200.1.0/24", "10.10.0.0/16"), Responder("transport", "10.10.0.0/16", "10.200.0.0/16"));
        Assert.Single(i.Sa.Children);
        Assert.Equal(IpsecMode.Tunnel, Install(i).Mode);
        Assert.Equal(IpsecMode.Tunnel, Install(r).Mode);
    }

    [Fact]
    public void Protocol_narrowed_host_selectors_negotiate_transport()
    {
        // GRE over IPsec: the IKE endpoints, protocol 47 only.
        var (i, r) = EstablishedWith(Initiator("transport", "\"dynamic[47]\"", "\"dynamic[47]\""), Responder("transport", "\"dynamic[47]\"", "\"dynamic[47]\""));
        var install = Install(r);
        Assert.Equal(IpsecMode.Transport, install.Mode);
        Assert.Equal(47, install.LocalTs.Single().IpProtocol);
        Assert.Equal(IpsecMode.Transport, Install(i).Mode);
    }

    [Fact]
    public void Transport_sas_carry_a_packet_both_ways_with_the_ip_header_rebuilt()
    {
        var (i, r) = EstablishedWith(Initiator("transport"), Responder("transport"));
        var iSpi = Install(i).InboundSpi;
        var rSpi = Install(r).InboundSpi;
        Carry(i.Plane, iSpi, r.Plane, InitiatorEp.Address, ResponderEp.Address);
        Carry(r.Plane, rSpi, i.Plane, ResponderEp.Address, InitiatorEp.Address);
    }

    private static void Carry(InMemoryDataPlane sender, uint senderSpi, InMemoryDataPlane receiver, IPAddress from, IPAddress to)
    {
        var packet = Udp(from, to, ttl: 17, id: 0x1234, payload: 333);
        var buffer = new byte[4096];
        Assert.Equal(EspStatus.Ok, sender.Encapsulate(senderSpi, packet, buffer, out int written));
        // Transport mode: the ESP payload is the UDP datagram only (no inner IP header), next header 17.
        // AES-GCM: SPI, sequence, 8-byte IV | payload + trailer padded to 4 | 16-byte ICV.
        Assert.Equal(16 + (packet.Length - 20 + 2 + 3) / 4 * 4 + 16, written);
        var esp = buffer.AsSpan(0, written);
        Assert.Equal(EspStatus.Ok, receiver.Decapsulate(esp, out var inner));
        var got = esp[inner];
        Assert.Equal(packet.Length, got.Length);
        Assert.Equal(packet.AsSpan(20).ToArray(), got[20..].ToArray());
        Assert.Equal(0x45, got[0]);
        Assert.Equal(packet.Length, BinaryPrimitives.ReadUInt16BigEndian(got[2..]));
        Assert.Equal(17, got[9]);
        Assert.Equal(from.GetAddressBytes(), got.Slice(12, 4).ToArray());
        Assert.Equal(to.GetAddressBytes(), got.Slice(16, 4).ToArray());
        Assert.Equal(0, Checksum(got[..20]));
    }

    [Fact]
    public void Transport_sa_refuses_fragments_and_other_addresses()
    {
        var (i, _) = EstablishedWith(Initiator("transport"), Responder("transport"));
        var spi = Install(i).InboundSpi;
        var buffer = new byte[4096];
        var fragment = Udp(InitiatorEp.Address, ResponderEp.Address, 64, 1, 100);
        fragment[6] = 0x20; // more fragments
        Assert.Equal(EspStatus.BadInnerPacket, i.Plane.Encapsulate(spi, fragment, buffer, out _));
        var elsewhere = Udp(InitiatorEp.Address, IPAddress.Parse("192.0.2.99"), 64, 1, 100);
        Assert.Equal(EspStatus.BadInnerPacket, i.Plane.Encapsulate(spi, elsewhere, buffer, out _));
        var truncated = Udp(InitiatorEp.Address, ResponderEp.Address, 64, 1, 100)[..60];
        Assert.Equal(EspStatus.BadInnerPacket, i.Plane.Encapsulate(spi, truncated, buffer, out _));
    }

    [Fact]
    public void Snapshot_keeps_the_mode_and_older_versions_still_decode()
    {
        var (i, _) = EstablishedWith(Initiator("transport"), Responder("transport"));
        var snapshot = IkeSaSnapshotter.Snapshot(i.Sa, _ => (0, 0));
        Assert.Equal(IpsecMode.Transport, snapshot.Children.Single().Mode);
        var bytes = IkeSaSnapshotCodec.Encode(snapshot);
        Assert.Equal(IkeSaSnapshotCodec.VersionWithModes, bytes[0]);
        Assert.Equal(Concentrator.Ipsec.ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(bytes, out var decoded));
        Assert.Equal(IpsecMode.Transport, decoded!.Children.Single().Mode);
        Assert.Equal(bytes, IkeSaSnapshotCodec.Encode(decoded));
        // A truncated mode byte is refused, never read as tunnel.
        Assert.NotEqual(Concentrator.Ipsec.ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(bytes.AsSpan(0, bytes.Length - 1), out _));

        var (ti, _) = EstablishedWith(Initiator("tunnel"), Responder("tunnel"));
        var tunnel = IkeSaSnapshotCodec.Encode(IkeSaSnapshotter.Snapshot(ti.Sa, _ => (0, 0)));
        Assert.Equal(IkeSaSnapshotCodec.Version, tunnel[0]);
        Assert.Equal(Concentrator.Ipsec.ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(tunnel, out var old));
        Assert.Equal(IpsecMode.Tunnel, old!.Children.Single().Mode);
    }

    private static byte[] Udp(IPAddress from, IPAddress to, byte ttl, ushort id, int payload)
    {
        var p = new byte[28 + payload];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
        p[8] = ttl;
        p[9] = 17;
        from.GetAddressBytes().CopyTo(p, 12);
        to.GetAddressBytes().CopyTo(p, 16);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum(p.AsSpan(0, 20)));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), 40000);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), 7);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), (ushort)(8 + payload));
        for (int k = 0; k < payload; k++) p[28 + k] = (byte)(k * 7);
        return p;
    }

    /// <summary>The Internet checksum (RFC 1071): 0 over a header whose checksum field is correct.</summary>
    private static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int k = 0; k + 1 < data.Length; k += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[k..]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}

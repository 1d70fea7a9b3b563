using System.Net;
using Concentrator.Cluster.Replication;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Tests.Ike.Sa;
using Concentrator.Tests.Support;
using static Concentrator.Cluster.Replication.MoveProof;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary>
/// <see cref="MoveProof"/> on real SAs (two <c>IkeSa</c> ends wired message by message): only the peer's new messages,
/// authenticated with the SA's own keys, move an SA; forged, tampered, replayed and our own are refused, and the peer's
/// last request once more is a retransmission (which moves an SA only away from a holder that is gone).
/// </summary>
public sealed class MoveProofTests
{
    private const int MaxPayloads = 64;

    [Fact]
    public void Ike_requests_and_responses_of_the_peer_prove_a_move_while_they_are_new()
    {
        var (i, r) = RekeyHarness.Established();
        i.Sa.SendDpd();
        var request = Assert.Single(i.Drain()).Datagram;
        using (var before = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0)))
        {
            Assert.Equal(Verdict.Fresh, Check(before, request, esp: false, MaxPayloads));
            var tampered = (byte[])request.Clone();
            tampered[^1] ^= 1;
            Assert.Equal(Verdict.Refused, Check(before, tampered, esp: false, MaxPayloads));
            Assert.Equal(Verdict.Refused, Check(before, request[..^1], esp: false, MaxPayloads));
            Assert.Equal(Verdict.Refused, Check(before, Packets.IkeOfLength(request.Length), esp: false, MaxPayloads));
            Assert.Equal(Verdict.Refused, Check(before, request, esp: true, MaxPayloads));
        }

        // The responder answers: the same request is now a retransmission, and the answer is new to the initiator.
        r.Receive(request, i.Self);
        var response = Assert.Single(r.Drain()).Datagram;
        using (var initiator = IkeSaSnapshotter.Snapshot(i.Sa, _ => (0, 0)))
        {
            Assert.Equal(Verdict.Fresh, Check(initiator, response, esp: false, MaxPayloads));
            Assert.Equal(Verdict.Refused, Check(initiator, request, esp: false, MaxPayloads)); // its own message, not the peer's
        }
        using (var after = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0)))
        {
            Assert.Equal(Verdict.Retransmission, Check(after, request, esp: false, MaxPayloads));
            Assert.Equal(Verdict.Refused, Check(after, response, esp: false, MaxPayloads));
        }
        i.Receive(response, r.Self);
        i.Drain();
        using (var answered = IkeSaSnapshotter.Snapshot(i.Sa, _ => (0, 0)))
        {
            Assert.Equal(Verdict.Refused, Check(answered, response, esp: false, MaxPayloads)); // a replayed response
        }

        // One exchange later the first request is older than the last: a replay, not a retransmission.
        i.Sa.SendDpd();
        RekeyHarness.Pump(i, r);
        using var later = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0));
        Assert.Equal(Verdict.Refused, Check(later, request, esp: false, MaxPayloads));
    }

    [Fact]
    public void Each_ike_fragment_of_a_new_peer_request_proves_a_move_on_its_own()
    {
        // RFC 7383: every SKF fragment is authenticated on its own, and the first datagram of a peer's large message
        // to reach another node may be any of them.
        var (i, r) = RekeyHarness.Established();
        ulong spiI, spiR;
        uint next;
        using (var own = IkeSaSnapshotter.Snapshot(i.Sa, _ => (0, 0))) (spiI, spiR, next) = (own.SpiI, own.SpiR, own.NextRequestId);
        var header = new IkeHeader(spiI, spiR, PayloadType.None, 2, 0, ExchangeType.Informational, IkeFlags.Initiator, next, 0);
        var fragments = i.Sa.Protector!.SealFragments(header, [new VendorIdPayload(new byte[600])], 300);
        Assert.True(fragments.Length >= 3, $"{fragments.Length} fragments");

        using var snapshot = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0));
        foreach (var fragment in fragments) Assert.Equal(Verdict.Fresh, Check(snapshot, fragment, esp: false, MaxPayloads));
        var tampered = (byte[])fragments[1].Clone();
        tampered[^1] ^= 1;
        Assert.Equal(Verdict.Refused, Check(snapshot, tampered, esp: false, MaxPayloads));
        // Sealed with the responder's own keys: not the peer's.
        var ours = r.Sa.Protector!.SealFragments(header with { Flags = IkeFlags.None }, [new VendorIdPayload(new byte[600])], 300);
        Assert.Equal(Verdict.Refused, Check(snapshot, ours[0], esp: false, MaxPayloads));
    }

    [Fact]
    public void Esp_proves_a_move_when_its_icv_verifies_and_its_sequence_number_lies_above_the_mark()
    {
        var (i, r) = RekeyHarness.Established();
        var child = Assert.Single(i.Sa.Children);
        var wire = new byte[2048];
        var inner = Packets.Ipv4Udp(IPAddress.Parse("10.200.1.1"), IPAddress.Parse("10.10.0.1"), 64);
        var packets = new List<byte[]>();
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(EspStatus.Ok, i.Plane.Encapsulate(child.InboundSpi, inner, wire, out int written));
            packets.Add(wire[..written]);
        }

        using (var fresh = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0)))
        {
            var copy = (byte[])packets[0].Clone();
            Assert.Equal(Verdict.Fresh, Check(fresh, packets[0], esp: true, MaxPayloads));
            Assert.Equal(copy, packets[0]); // the proof is not decrypted in place: it goes on to the holder
            var forged = (byte[])packets[0].Clone();
            forged[^3] ^= 0x40;
            Assert.Equal(Verdict.Refused, Check(fresh, forged, esp: true, MaxPayloads));
            var otherSpi = (byte[])packets[0].Clone();
            otherSpi[0] ^= 0x80;
            Assert.Equal(Verdict.Refused, Check(fresh, otherSpi, esp: true, MaxPayloads));
            Assert.Equal(Verdict.Refused, Check(fresh, packets[0][..8], esp: true, MaxPayloads));
        }

        // The holder had taken packets up to sequence number 2: those are replays, the third is new.
        using var marked = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 2));
        Assert.Equal(Verdict.Refused, Check(marked, packets[0], esp: true, MaxPayloads));
        Assert.Equal(Verdict.Refused, Check(marked, packets[1], esp: true, MaxPayloads));
        Assert.Equal(Verdict.Fresh, Check(marked, packets[2], esp: true, MaxPayloads));
    }
}

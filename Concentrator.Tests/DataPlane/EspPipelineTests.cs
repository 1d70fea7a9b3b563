using System.Net;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

/// <summary>
/// The one ESP open/seal every plane uses: the RFC 4301 §5.2 checks a plane with transports asks for (the SA's
/// transport, the inner packet against the SA's selectors), the unknown-SPI hook, and refusals before a sequence
/// number is spent.
/// </summary>
public sealed class EspPipelineTests : IDisposable
{
    private const uint SenderSpi = 0x51000001; // the sender's inbound SPI
    private const uint ReceiverSpi = 0x51000002; // the receiver's inbound SPI

    // Ipv4() carries 10.0.0.1 -> 10.0.0.2: the receiver's remote selector covers the source, its local one the destination.
    private static readonly TrafficSelector Peer = Host("10.0.0.1");
    private static readonly TrafficSelector Us = Host("10.0.0.2");

    private readonly SaTable _sender = new();
    private readonly SaTable _receiver = new();
    private readonly EspSa _out;

    public EspPipelineTests()
    {
        byte[] toReceiver = Key(20, 0x11), toSender = Key(20, 0x22);
        _out = _sender.Add(Install(Gcm128, SenderSpi, ReceiverSpi, (byte[])toSender.Clone(), [], (byte[])toReceiver.Clone(), []) with
        {
            LocalTs = [Peer], RemoteTs = [Us],
        });
        _receiver.Add(Install(Gcm128, ReceiverSpi, SenderSpi, (byte[])toReceiver.Clone(), [], (byte[])toSender.Clone(), []) with
        {
            LocalTs = [Us], RemoteTs = [Peer], Transport = EspTransport.UdpEncapsulated,
        });
    }

    public void Dispose()
    {
        _sender.Dispose();
        _receiver.Dispose();
    }

    private byte[] Seal(byte[] inner)
    {
        var wire = new byte[inner.Length + 128];
        Assert.Equal(EspStatus.Ok, EspPipeline.Seal(_out, inner, wire, out int written));
        return wire[..written];
    }

    [Fact]
    public void Open_decrypts_in_place_and_locates_the_inner_packet()
    {
        byte[] inner = Ipv4(300);
        byte[] wire = Seal(inner);
        Assert.Equal(EspStatus.Ok, EspPipeline.Open(_receiver, wire, EspTransport.UdpEncapsulated, out Range range));
        Assert.Equal(inner, wire[range]);
    }

    [Fact]
    public void An_sa_receives_only_on_its_own_transport_and_its_replay_window_is_left_alone()
    {
        byte[] wire = Seal(Ipv4(100));
        Assert.Equal(EspStatus.WrongTransport, EspPipeline.Open(_receiver, (byte[])wire.Clone(), EspTransport.RawEsp, out _));
        Assert.Equal(EspStatus.Ok, EspPipeline.Open(_receiver, wire, EspTransport.UdpEncapsulated, out _)); // not seen as a replay
    }

    [Fact]
    public void An_inner_packet_outside_the_selectors_is_refused_after_decryption()
    {
        byte[] spoofed = Ipv4(100);
        spoofed[15] = 9; // source 10.0.0.9
        Assert.Equal(EspStatus.TsMismatch, EspPipeline.Open(_receiver, Seal(spoofed), EspTransport.UdpEncapsulated, out _));

        byte[] elsewhere = Ipv4(100);
        elsewhere[19] = 9; // destination 10.0.0.9
        Assert.Equal(EspStatus.TsMismatch, EspPipeline.Open(_receiver, Seal(elsewhere), EspTransport.UdpEncapsulated, out _));

        // Without a transport (the in-memory plane) only RFC 4303 applies.
        Assert.Equal(EspStatus.Ok, EspPipeline.Open(_receiver, Seal(spoofed), out _));
    }

    [Fact]
    public void Unknown_spis_are_reported_and_runts_are_not_looked_up()
    {
        var reported = new List<uint>();
        var packets = new List<byte[]>();
        _receiver.OnUnknownSpi((spi, packet) =>
        {
            reported.Add(spi);
            packets.Add(packet.ToArray());
        });
        byte[] wire = Seal(Ipv4(100));
        wire[3] ^= 0xFF;
        Assert.Equal(EspStatus.UnknownSpi, EspPipeline.Open(_receiver, wire, EspTransport.UdpEncapsulated, out _));
        Assert.Equal(EspStatus.Truncated, EspPipeline.Open(_receiver, wire.AsSpan(0, EspPacket.HeaderLength - 1), EspTransport.UdpEncapsulated, out _));
        Assert.Equal([ReceiverSpi ^ 0xFF], reported);
        Assert.Equal(wire, Assert.Single(packets)); // the whole packet, from its SPI on: the cluster authenticates it before moving an SA
    }

    [Fact]
    public void Seal_refuses_before_spending_a_sequence_number()
    {
        var wire = new byte[2048];
        Assert.Equal(EspStatus.BadInnerPacket, EspPipeline.Seal(_out, [], wire, out _));
        Assert.Equal(EspStatus.BufferTooSmall, EspPipeline.Seal(_out, Ipv4(100), wire.AsSpan(0, 100), out _));
        Assert.Equal(0UL, _out.LastOutboundSequence);

        Assert.True(_sender.Delete(SenderSpi));
        Assert.Equal(EspStatus.UnknownSpi, EspPipeline.Seal(_out, Ipv4(100), wire, out _));
    }

    private static TrafficSelector Host(string address)
    {
        var ip = IPAddress.Parse(address);
        return new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, ip, ip);
    }
}

using System.Buffers.Binary;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Tests.Ike.Crypto;
using static Concentrator.Tests.DataPlane.AhTestSupport;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

/// <summary>AH (RFC 4302): the header codec, the ICV and its mutable fields, replay, ESN and sequence limits.</summary>
public sealed class AhPacketTests
{
    /// <summary>RFC 4868 §2.7.2.1-3 (AUTH256/384/512-1..3), the table the IKE integrity tests use.</summary>
    [Theory]
    [MemberData(nameof(PrfAndIntegrityVectorTests.Rfc4868Auth), MemberType = typeof(PrfAndIntegrityVectorTests))]
    public void Icv_function_matches_RFC4868(IntegAlgorithm alg, string key, string data, string expected)
    {
        var mac = new byte[AhIcv.MaxMacLength];
        AhIcv.Hmac(alg, PrfAndIntegrityVectorTests.Spec(key), PrfAndIntegrityVectorTests.Spec(data), mac);
        Assert.Equal(expected, ToHex(mac.AsSpan(0, AhIcv.IcvLength(alg))));
    }

    [Theory]
    [InlineData(16, false, 28)]
    [InlineData(16, true, 32)]
    [InlineData(24, false, 36)]
    [InlineData(24, true, 40)]
    [InlineData(32, false, 44)]
    [InlineData(32, true, 48)]
    public void Header_length_is_padded_to_32_bits_over_IPv4_and_64_over_IPv6(int icv, bool ipv6, int expected)
    {
        Assert.Equal(expected, AhHeader.LengthFor(icv, ipv6));
        var bytes = new byte[expected];
        AhHeader.Write(bytes, 4, expected, 0x01020304, 7);
        Assert.Equal(expected / 4 - 2, bytes[1]); // RFC 4302 §2.2: 32-bit words minus 2
        Assert.Equal(ParseStatus.Ok, AhHeader.TryParse(bytes, ipv6, out var parsed));
        Assert.Equal((4, expected, 0x01020304u, 7u), (parsed.NextHeader, parsed.Length, parsed.Spi, parsed.Sequence));
        Assert.Equal(ParseStatus.Truncated, AhHeader.TryParse(bytes.AsSpan(0, expected - 1), ipv6, out _));
    }

    [Fact]
    public void Header_reader_refuses_lengths_without_an_ICV_or_off_the_IPv6_grid()
    {
        var bytes = new byte[64];
        bytes[1] = 1; // 12 bytes: no ICV
        Assert.Equal(ParseStatus.BadLength, AhHeader.TryParse(bytes, false, out _));
        bytes[1] = 5; // 28 bytes: fine over IPv4, not a multiple of 8 for IPv6
        Assert.Equal(ParseStatus.Ok, AhHeader.TryParse(bytes, false, out _));
        Assert.Equal(ParseStatus.BadLength, AhHeader.TryParse(bytes, true, out _));
        Assert.Equal(ParseStatus.Truncated, AhHeader.TryParse(bytes.AsSpan(0, 11), false, out _));
    }

    public static TheoryData<int, bool, bool> AlgorithmsOuterEsn()
    {
        var data = new TheoryData<int, bool, bool>();
        for (int i = 0; i < AhAlgorithms.Length; i++)
            foreach (bool v6 in new[] { false, true })
                foreach (bool esn in new[] { false, true })
                    data.Add(i, v6, esn);
        return data;
    }

    [Theory]
    [MemberData(nameof(AlgorithmsOuterEsn))]
    public void Tunnel_mode_round_trips_IPv4_and_IPv6_inner_packets(int alg, bool ipv6Outer, bool esn)
    {
        using var pair = new AhPair(AhAlgorithms[alg], esn, ipv6Outer);
        foreach (var inner in new[] { Ipv4(20), Ipv4(61), Ipv4(1400), Ipv6(40), Ipv6(333) })
        {
            var packet = pair.Send(inner);
            Assert.Equal(ipv6Outer ? 6 : 4, packet[0] >> 4);
            int ahOffset = ipv6Outer ? 40 : 20;
            Assert.Equal(ipv6Outer ? 51 : 51, ipv6Outer ? packet[6] : packet[9]);
            Assert.Equal(inner[0] >> 4 == 4 ? 4 : 41, packet[ahOffset]);
            Assert.Equal(AhHeader.LengthFor(AhIcv.IcvLength(AhAlgorithms[alg]), ipv6Outer) / 4 - 2, packet[ahOffset + 1]);
            var (status, received) = pair.Receive(packet);
            Assert.Equal(EspStatus.Ok, status);
            Assert.Equal(inner, received);
        }
    }

    [Fact]
    public void Transport_mode_keeps_the_addresses_and_carries_the_upper_layer_protocol()
    {
        using var pair = new AhPair(IntegAlgorithm.HmacSha2_256_128, mode: IpsecMode.Transport);
        var inner = Ipv4(300); // 10.0.0.1 -> 10.0.0.2, UDP
        var packet = pair.Send(inner);
        Assert.Equal(20 + 28 + 280, packet.Length);
        Assert.Equal(17, packet[20]); // AH next header: the upper-layer protocol
        Assert.Equal(inner[12..20], packet[12..20]);
        var (status, received) = pair.Receive(packet);
        Assert.Equal(EspStatus.Ok, status);
        Assert.Equal(inner[20..], received[20..]);
        Assert.Equal(17, received[9]);
        Assert.Equal(inner[12..20], received[12..20]);
    }

    /// <summary>RFC 4302 §3.3.3.1.1.1: each IPv4 header byte, whether changing it en route must keep the ICV valid.</summary>
    public static TheoryData<int, bool> Ipv4Fields() => new()
    {
        { 0, false }, // version / IHL
        { 1, true },  // TOS (DSCP + ECN)
        { 2, false }, { 3, false }, // total length
        { 4, false }, { 5, false }, // identification
        { 6, true }, { 7, true },   // flags + fragment offset
        { 8, true },  // TTL
        { 9, false }, // protocol
        { 10, true }, { 11, true }, // header checksum
        { 12, false }, { 15, false }, // source
        { 16, false }, { 19, false }, // destination
    };

    [Theory]
    [MemberData(nameof(Ipv4Fields))]
    public void Ipv4_mutable_fields_are_zeroed_and_immutable_ones_covered(int offset, bool mutable)
    {
        using var pair = new AhPair(IntegAlgorithm.HmacSha2_256_128);
        var packet = pair.Send(Ipv4(100));
        packet[offset] ^= offset == 0 ? (byte)0x01 : (byte)0x5a;
        var expected = mutable ? EspStatus.Ok : offset is 0 or 2 or 3 or 9 ? (EspStatus?)null : EspStatus.AhIcvFailed;
        var (status, _) = pair.Receive(packet);
        if (expected is { } e) Assert.Equal(e, status);
        else Assert.NotEqual(EspStatus.Ok, status); // a changed header shape: refused before or at the ICV
    }

    /// <summary>RFC 4302 §3.3.3.1.2: the IPv6 header's traffic class, flow label and hop limit are mutable, the rest is not.</summary>
    public static TheoryData<int, bool> Ipv6Fields() => new()
    {
        { 0, true }, // low nibble: traffic class (the version nibble itself is flipped below only in its low bits)
        { 1, true }, { 2, true }, { 3, true }, // traffic class + flow label
        { 4, false }, { 5, false }, // payload length
        { 7, true },  // hop limit
        { 8, false }, { 23, false }, // source
        { 24, false }, { 39, false }, // destination
    };

    [Theory]
    [MemberData(nameof(Ipv6Fields))]
    public void Ipv6_mutable_fields_are_zeroed_and_immutable_ones_covered(int offset, bool mutable)
    {
        using var pair = new AhPair(IntegAlgorithm.HmacSha2_256_128, ipv6Outer: true);
        var packet = pair.Send(Ipv4(100));
        packet[offset] ^= offset == 0 ? (byte)0x0f : (byte)0x5a;
        var (status, _) = pair.Receive(packet);
        if (mutable) Assert.Equal(EspStatus.Ok, status);
        else Assert.NotEqual(EspStatus.Ok, status);
        if (!mutable && offset >= 8) Assert.Equal(EspStatus.AhIcvFailed, status);
    }

    [Fact]
    public void Ipv4_options_are_zeroed_by_class_and_unclassified_ones_refused()
    {
        var key = Key(32, 1);
        // Record Route (7): mutable, zeroed whole. Router Alert (148): immutable. LSRR (131) and 99: refused.
        byte[] MakeHeader(params byte[] options)
        {
            var h = new byte[20 + options.Length];
            h[0] = (byte)(0x40 | (h.Length / 4));
            h[8] = 64;
            h[9] = 51;
            options.CopyTo(h, 20);
            return h;
        }
        var rr = MakeHeader(7, 7, 4, 1, 2, 3, 4, 0);
        Assert.Equal(EspStatus.Ok, AhIcv.ZeroMutable4(rr));
        Assert.All(rr[20..27], b => Assert.Equal(0, b));
        var ra = MakeHeader(148, 4, 0, 0);
        ra[22] = 9;
        Assert.Equal(EspStatus.Ok, AhIcv.ZeroMutable4(ra));
        Assert.Equal(new byte[] { 148, 4, 9, 0 }, ra[20..24]);
        Assert.Equal(EspStatus.BadIpOption, AhIcv.ZeroMutable4(MakeHeader(131, 7, 4, 1, 2, 3, 4, 0)));
        Assert.Equal(EspStatus.BadIpOption, AhIcv.ZeroMutable4(MakeHeader(99, 4, 0, 0)));
        Assert.Equal(EspStatus.BadIpOption, AhIcv.ZeroMutable4(MakeHeader(7, 9, 0, 0))); // runs past the header
        Assert.Equal(EspStatus.Ok, AhIcv.ZeroMutable4(MakeHeader(1, 1, 1, 0))); // NOPs then End of List
    }

    [Fact]
    public void Ipv6_option_data_with_the_change_bit_is_zeroed_and_a_routing_header_refused()
    {
        // IPv6 header, then a Destination Options header: option 0x3e (change bit set) and 0x1e (not), each 2 data bytes.
        var h = new byte[48];
        h[0] = 0x60;
        h[6] = 60;
        h[40] = 51;
        h[41] = 0;
        h[42] = 0x3e; h[43] = 1; h[44] = 0xaa;
        h[45] = 0x1e; h[46] = 0; // PadN-like, no data
        h[47] = 0;               // Pad1
        Assert.Equal(EspStatus.Ok, AhIcv.Locate(h.Concat(new byte[12]).ToArray(), out bool v6, out int offset));
        Assert.True(v6);
        Assert.Equal(48, offset);
        Assert.Equal(EspStatus.Ok, AhIcv.ZeroMutable6(h));
        Assert.Equal(0, h[44]);
        Assert.Equal(0x3e, h[42]);
        var routed = new byte[60];
        routed[0] = 0x60;
        routed[6] = 43;
        Assert.Equal(EspStatus.BadIpOption, AhIcv.Locate(routed, out _, out _));
    }

    [Fact]
    public void A_replayed_packet_is_refused_and_a_forged_ICV_leaves_the_window_alone()
    {
        using var pair = new AhPair(IntegAlgorithm.HmacSha2_384_192);
        var first = pair.Send(Ipv4(80));
        var second = pair.Send(Ipv4(80, 1));
        Assert.Equal(EspStatus.Ok, pair.Receive(first).Status);
        Assert.Equal(EspStatus.AhReplay, pair.Receive(first).Status);
        var forged = (byte[])second.Clone();
        forged[20 + 12] ^= 0x01; // one ICV bit
        Assert.Equal(EspStatus.AhIcvFailed, pair.Receive(forged).Status);
        var tampered = (byte[])second.Clone();
        tampered[^1] ^= 0x80; // one payload bit
        Assert.Equal(EspStatus.AhIcvFailed, pair.Receive(tampered).Status);
        Assert.Equal(1ul, pair.SaB.Window.Top);
        Assert.Equal(EspStatus.Ok, pair.Receive(second).Status);
        Assert.Equal(2ul, pair.SaB.Window.Top);
    }

    [Fact]
    public void Esn_carries_the_high_half_across_the_32_bit_wrap()
    {
        using var pair = new AhPair(IntegAlgorithm.HmacSha2_256_128, esn: true);
        pair.SaA.SetLastOutboundSequenceForTest(uint.MaxValue - 2);
        pair.SaB.Window.Restore(uint.MaxValue - 3);
        for (int i = 0; i < 5; i++)
        {
            var packet = pair.Send(Ipv4(60, (byte)i));
            Assert.Equal(EspStatus.Ok, pair.Receive(packet).Status);
        }
        Assert.Equal((ulong)uint.MaxValue + 3, pair.SaB.Window.Top);
        // The ICV covers the implicit high half: the same packet read as from the previous 2^32 block fails.
        using var other = new AhPair(IntegAlgorithm.HmacSha2_256_128, esn: true);
        other.SaA.SetLastOutboundSequenceForTest((1UL << 32) + 10);
        var p = other.Send(Ipv4(60));
        other.SaB.Window.Restore(5); // low half 11 lies above: the receiver infers high half 0, the ICV was made with 1
        Assert.Equal(EspStatus.AhIcvFailed, other.Receive(p).Status);
    }

    [Fact]
    public void Without_esn_the_sequence_never_wraps()
    {
        using var pair = new AhPair(IntegAlgorithm.HmacSha2_256_128);
        pair.SaA.SetLastOutboundSequenceForTest(uint.MaxValue - 1);
        var buffer = new byte[400];
        Assert.Equal(EspStatus.Ok, pair.A.ProtectAh(AhPair.SpiA, Ipv4(60), buffer, out _));
        Assert.Equal(uint.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(20 + 8)));
        Assert.Equal(EspStatus.SequenceExhausted, pair.A.ProtectAh(AhPair.SpiA, Ipv4(60), buffer, out _));
        Assert.Equal(SaRekeyHint.Exhausted, pair.A.GetRekeyHint(AhPair.SpiA));
    }

    [Fact]
    public void Esp_and_AH_never_open_each_others_SAs()
    {
        using var ah = new AhPair(IntegAlgorithm.HmacSha2_256_128);
        var buffer = new byte[400];
        Assert.Equal(EspStatus.WrongTransport, ah.A.Encapsulate(AhPair.SpiA, Ipv4(60), buffer, out _));
        var esp = new byte[64];
        BinaryPrimitives.WriteUInt32BigEndian(esp, AhPair.SpiB);
        Assert.Equal(EspStatus.WrongTransport, ah.B.Decapsulate(esp, out _));
        using var espPair = new EspTestSupport.Pair(Cbc128Sha256);
        Assert.Equal(EspStatus.WrongTransport, espPair.A.ProtectAh(EspTestSupport.Pair.SpiA, Ipv4(60), buffer, out _));
    }

    [Fact]
    public void Unknown_SPI_and_runts_are_refused_without_throwing()
    {
        using var pair = new AhPair(IntegAlgorithm.HmacSha2_256_128);
        var packet = pair.Send(Ipv4(60));
        var unknown = (byte[])packet.Clone();
        unknown[24] ^= 0xff;
        Assert.Equal(EspStatus.UnknownSpi, pair.Receive(unknown).Status);
        for (int cut = 0; cut < packet.Length; cut += 7)
        {
            var shorter = packet[..cut];
            if (cut >= 4) BinaryPrimitives.WriteUInt16BigEndian(shorter.AsSpan(2), (ushort)cut);
            Assert.NotEqual(EspStatus.Ok, pair.Receive(shorter).Status);
        }
    }
}

using System.Buffers.Binary;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

/// <summary>Every refusal is a status; none of these calls may throw.</summary>
public class EspStatusTests
{
    /// <summary>
    /// Builds an authentic packet (sealed with A's outbound key) whose encrypted part is exactly
    /// <paramref name="body"/> (payload | padding | pad length | next header), to test trailer checks.
    /// </summary>
    private static byte[] SealRaw(Pair pair, EspSuite suite, uint seq, byte[] body)
    {
        using EspCipher cipher = EspCipher.Create(suite, (byte[])pair.KeyAtoB.Clone(), (byte[])pair.IntegAtoB.Clone());
        var packet = new byte[cipher.HeaderLength + body.Length + cipher.IcvLength];
        BinaryPrimitives.WriteUInt32BigEndian(packet, Pair.SpiB);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), seq);
        for (int i = 0; i < cipher.IvLength; i++)
            packet[8 + i] = (byte)(0x40 + i);
        body.CopyTo(packet, cipher.HeaderLength);
        cipher.Seal(packet, 0, suite.Esn);
        return packet;
    }

    public static TheoryData<int> Suites()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < AllSuites.Length; i++)
            data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void BadPadding_IsReported_AfterAuthentication(int suiteIndex)
    {
        EspSuite suite = AllSuites[suiteIndex];
        using var pair = new Pair(suite);
        int block = suite.Encryption switch
        {
            EncrAlgorithm.AesCbc => 16,
            EncrAlgorithm.TripleDes => 8,
            _ => 4,
        };
        byte[] inner = Ipv4(20 + block); // payload + 2 needs block-2 bytes of padding

        byte[] Body(byte padLength, Func<int, byte> pad, byte nextHeader)
        {
            int total = inner.Length + padLength + 2;
            total = (total + block - 1) / block * block;
            var body = new byte[total];
            inner.CopyTo(body, 0);
            for (int i = 0; i < padLength; i++)
                body[inner.Length + i] = pad(i);
            body[^2] = padLength;
            body[^1] = nextHeader;
            return body;
        }

        byte good = (byte)((block - (inner.Length + 2) % block) % block);
        Assert.True(good >= 2);
        // Correct framing first, to show the builder is right.
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(SealRaw(pair, suite, 1, Body(good, i => (byte)(i + 1), 4)), out _));
        // Wrong padding contents (0, 0, ... as some stacks send).
        Assert.Equal(EspStatus.BadPadding, pair.B.Decapsulate(SealRaw(pair, suite, 2, Body(good, _ => 0, 4)), out _));
        // Last padding byte wrong.
        Assert.Equal(EspStatus.BadPadding, pair.B.Decapsulate(SealRaw(pair, suite, 3, Body(good, i => i == good - 1 ? (byte)0xff : (byte)(i + 1), 4)), out _));
        // Pad length larger than everything before the trailer.
        byte[] tooLong = Body(good, i => (byte)(i + 1), 4);
        tooLong[^2] = (byte)(tooLong.Length - 1);
        Assert.Equal(EspStatus.BadPadding, pair.B.Decapsulate(SealRaw(pair, suite, 4, tooLong), out _));
        // Authenticated but badly padded packets still consumed their sequence number.
        Assert.Equal(EspStatus.Replay, pair.B.Decapsulate(SealRaw(pair, suite, 2, Body(good, i => (byte)(i + 1), 4)), out _));
        // Extra (non-minimal) padding 1..n is legal (RFC 4303 §2.4 allows up to 255).
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(SealRaw(pair, suite, 5, Body((byte)(good + block), i => (byte)(i + 1), 4)), out _));
    }

    [Theory]
    [InlineData(17, 4, EspStatus.BadNextHeader)]   // UDP: transport mode is not negotiated
    [InlineData(1, 4, EspStatus.BadNextHeader)]
    [InlineData(41, 4, EspStatus.BadNextHeader)]   // says IPv6, carries IPv4
    [InlineData(4, 6, EspStatus.BadNextHeader)]    // says IPv4, carries IPv6
    [InlineData(59, 4, EspStatus.Dummy)]           // RFC 4303 §2.6 dummy packet
    [InlineData(4, 4, EspStatus.Ok)]
    [InlineData(41, 6, EspStatus.Ok)]
    public void NextHeader(byte nextHeader, int innerVersion, EspStatus expected)
    {
        using var pair = new Pair(Gcm128);
        byte[] inner = innerVersion == 4 ? Ipv4(44) : Ipv6(44);
        byte[] body = [.. inner, 1, 2, 2, nextHeader]; // 44 + 2 + 2 = 48, 4-byte aligned
        Assert.Equal(expected, pair.B.Decapsulate(SealRaw(pair, Gcm128, 1, body), out Range range));
        if (expected == EspStatus.Ok)
            Assert.Equal(44, range.End.Value - range.Start.Value);
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void EveryLengthBelowTheMinimum_IsTruncated(int suiteIndex)
    {
        EspSuite suite = AllSuites[suiteIndex];
        using var pair = new Pair(suite);
        byte[] good = pair.Send(Ipv4(20));
        using EspCipher geometry = EspCipher.Create(suite, (byte[])pair.KeyAtoB.Clone(), (byte[])pair.IntegAtoB.Clone());
        int minimum = geometry.HeaderLength + geometry.Alignment + geometry.IcvLength;
        for (int length = 0; length < minimum; length++)
            Assert.Equal(EspStatus.Truncated, pair.B.Decapsulate(good.AsSpan(0, length).ToArray(), out _));
        // One byte more than the minimum is misaligned, the minimum itself reaches authentication.
        Assert.Equal(EspStatus.BadLength, pair.B.Decapsulate(new byte[minimum + 1].Also(b => BinaryPrimitives.WriteUInt32BigEndian(b, Pair.SpiB)), out _));
        Assert.Equal(EspStatus.AuthFailed, pair.B.Decapsulate(good.AsSpan(0, minimum).ToArray().Also(b => b[7] = 5), out _));
        Assert.Equal(EspStatus.Ok, pair.B.Decapsulate(good, out _));
    }

    [Fact]
    public void Oversize_UnknownSpi_AndDeletedSa()
    {
        using var pair = new Pair(ChaCha);
        var huge = new byte[EspPacket.MaxPacketLength + 1];
        BinaryPrimitives.WriteUInt32BigEndian(huge, Pair.SpiB);
        Assert.Equal(EspStatus.Oversize, pair.B.Decapsulate(huge, out _));

        byte[] packet = pair.Send(Ipv4(64));
        byte[] unknown = (byte[])packet.Clone();
        unknown[3] ^= 0xff;
        Assert.Equal(EspStatus.UnknownSpi, pair.B.Decapsulate(unknown, out _));
        Assert.Equal(EspStatus.UnknownSpi, pair.A.Encapsulate(0xdeadbeef, Ipv4(20), new byte[200], out _));

        Assert.True(pair.B.DeleteSa(Pair.SpiB));
        Assert.Equal(EspStatus.UnknownSpi, pair.B.Decapsulate(packet, out _));
    }

    [Fact]
    public void Outbound_RefusesBadInnerAndSmallBuffers_WithoutBurningSequenceNumbers()
    {
        using var pair = new Pair(Gcm128);
        Assert.Equal(EspStatus.BadInnerPacket, pair.A.Encapsulate(Pair.SpiA, [], new byte[100], out _));
        Assert.Equal(EspStatus.BadInnerPacket, pair.A.Encapsulate(Pair.SpiA, new byte[30], new byte[100], out _)); // version 0
        byte[] inner = Ipv4(100);
        Assert.Equal(EspStatus.BufferTooSmall, pair.A.Encapsulate(Pair.SpiA, inner, new byte[100], out _));
        Assert.Equal(EspStatus.BufferTooSmall, pair.A.Encapsulate(Pair.SpiA, inner, new byte[16 + 100 + 2 + 16 - 1], out _));
        var exact = new byte[16 + 104 + 16];
        Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, inner, exact, out int written));
        Assert.Equal(exact.Length, written);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(exact.AsSpan(4)));
    }

    [Fact]
    public void SequenceExhaustion_WithoutEsn_RefusesAndAsksForRekey()
    {
        using var pair = new Pair(Gcm128);
        pair.SaA.SetLastOutboundSequenceForTest(EspSa.SoftLimit32 - 2);
        var buffer = new byte[200];
        Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out _));
        Assert.Equal(SaRekeyHint.None, pair.A.GetRekeyHint(Pair.SpiA));
        Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out _));
        Assert.Equal(SaRekeyHint.Soft, pair.A.GetRekeyHint(Pair.SpiA));

        pair.SaA.SetLastOutboundSequenceForTest(uint.MaxValue - 1);
        Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out int written));
        Assert.Equal("ffffffff", ToHex(buffer.AsSpan(4, 4))); // 2^32-1 is the last number sent
        Assert.Equal(SaRekeyHint.Soft, pair.A.GetRekeyHint(Pair.SpiA));
        for (int i = 0; i < 3; i++)
        {
            Array.Clear(buffer);
            Assert.Equal(EspStatus.SequenceExhausted, pair.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out written));
            Assert.Equal(0, written);
            Assert.Equal("0000000000000000", ToHex(buffer.AsSpan(0, 8))); // no header with a wrapped number
        }
        Assert.Equal(SaRekeyHint.Exhausted, pair.A.GetRekeyHint(Pair.SpiA));

        // The same position with ESN keeps going into the next sub-space.
        using var esn = new Pair(Gcm128 with { Esn = true });
        esn.SaA.SetLastOutboundSequenceForTest(uint.MaxValue);
        Assert.Equal(EspStatus.Ok, esn.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out _));
        Assert.Equal("00000000", ToHex(buffer.AsSpan(4, 4)));
        Assert.Equal(SaRekeyHint.None, esn.A.GetRekeyHint(Pair.SpiA));
        esn.SaA.SetLastOutboundSequenceForTest(EspSa.SoftLimit64);
        Assert.Equal(EspStatus.Ok, esn.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out _));
        Assert.Equal(SaRekeyHint.Soft, esn.A.GetRekeyHint(Pair.SpiA));
        esn.SaA.SetLastOutboundSequenceForTest(ulong.MaxValue - 1);
        Assert.Equal(EspStatus.SequenceExhausted, esn.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out _));
        Assert.Equal(SaRekeyHint.Exhausted, esn.A.GetRekeyHint(Pair.SpiA));
    }

    [Fact]
    public void Sequence_ceiling_refuses_numbers_above_it_until_raised_and_never_reuses_one()
    {
        using var pair = new Pair(Gcm128);
        var buffer = new byte[200];
        Assert.True(pair.A.SetOutboundCeiling(Pair.SpiA, 2));
        Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out _));
        Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out _));
        Assert.Equal("00000002", ToHex(buffer.AsSpan(4, 4)));
        Assert.Equal(EspStatus.SequenceCeiling, pair.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out int refused));
        Assert.Equal(0, refused);
        Assert.Equal(SaRekeyHint.None, pair.A.GetRekeyHint(Pair.SpiA)); // a ceiling is not exhaustion: no rekey

        Assert.True(pair.A.SetOutboundCeiling(Pair.SpiA, 10));
        Assert.Equal(EspStatus.Ok, pair.A.Encapsulate(Pair.SpiA, Ipv4(20), buffer, out _));
        Assert.Equal("00000004", ToHex(buffer.AsSpan(4, 4))); // 3 was burnt by the refusal, never sent
        Assert.False(pair.A.SetOutboundCeiling(0xdeadbeef, 10));
    }
}

internal static class AlsoExtension
{
    public static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}

// ESP packet pipeline (RFC 4303): tunnel mode here, transport mode's framing in EspTransportMode.cs. In the style of wireguard-go: spans in, status out;
// no allocation, LINQ, closures, locks or exceptions per packet.
//
// Outbound (any number of sender threads per SA, stages run sequentially within one packet):
//   O1 lookup     SA by selectors or SPI + SA reference (the plane, EspPipeline.Seal)         [parallel]
//   O2 frame      inner packet already sits after `HeaderLength` bytes of headroom; size checks  [parallel]
//   O3 sequence   Interlocked.Increment of the SA's 64-bit counter, refuse past 2^32-1 w/o ESN  [shared, atomic]
//   O4 seal       rent one of the SA's outbound lanes (Interlocked.Exchange, owned exclusively
//                 for this packet), write SPI | seq | IV | payload | pad | padlen | NH, encrypt +
//                 ICV in place, count into the lane, return the lane                          [parallel, per lane]
// Inbound (ONE worker owns an inbound SPI: cipher, replay window and inbound counters are its own):
//   I1 length     runts / oversize / misalignment                                               [owner]
//   I2 lookup     SA by the SPI in the packet (SaTable, EspPipeline.Open)                       [owner]
//   I3 replay     infer ESN high bits, Check the window BEFORE decryption (cheap reject)        [owner]
//   I4 open       verify ICV (constant time) and decrypt in place                               [owner]
//   I5 window     Update the window only now that the ICV verified                              [owner]
//   I6 trailer    padding 1,2,3..n, next header 4/41 (59 = dummy, dropped)                       [owner]
//   I7 count      plain-field lane counters, published to the SA totals every 32 packets / flush [owner]
// Control plane (actors) installs/deletes SAs through IDataPlane; it never sees a packet.
using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

public static class EspPacket
{
    /// <summary>SPI (4) | sequence number (4), RFC 4303 §2.</summary>
    public const int HeaderLength = 8;

    /// <summary>Largest ESP packet handled (an IPv4 datagram's limit; jumbograms are not carried).</summary>
    public const int MaxPacketLength = 65535;

    /// <summary>Pad length + next header, RFC 4303 §2.4-2.6.</summary>
    public const int TrailerLength = 2;

    public const byte NextHeaderIpv4 = 4;
    public const byte NextHeaderIpv6 = 41;
    /// <summary>"No next header": a dummy packet for traffic flow confidentiality, RFC 4303 §2.6.</summary>
    public const byte NextHeaderNone = 59;

    /// <summary>Bytes of an ESP packet carrying <paramref name="payloadLength"/> bytes with minimal padding.</summary>
    public static int SealedLength(EspCipher cipher, int payloadLength)
    {
        int alignment = cipher.Alignment;
        int encrypted = (payloadLength + TrailerLength + alignment - 1) / alignment * alignment;
        return cipher.HeaderLength + encrypted + cipher.IcvLength;
    }

    /// <summary>
    /// Stage O2-O4 for one SA: the inner IP packet is at buffer[sa headroom ..][..innerLength]; the
    /// ESP packet is written over the buffer from offset 0. The caller holds an SA reference.
    /// </summary>
    internal static EspStatus Encapsulate(EspSa sa, Span<byte> buffer, int innerLength, out int written)
    {
        written = 0;
        int headroom = sa.OutboundGeometry.HeaderLength;
        if (innerLength <= 0 || headroom + innerLength > buffer.Length)
            return EspStatus.BadInnerPacket;
        byte nextHeader;
        switch (buffer[headroom] >> 4)
        {
            case 4: nextHeader = NextHeaderIpv4; break;
            case 6: nextHeader = NextHeaderIpv6; break;
            default: return EspStatus.BadInnerPacket;
        }
        return Encapsulate(sa, buffer, innerLength, nextHeader, out written);
    }

    /// <summary>
    /// As <see cref="Encapsulate(EspSa, Span{byte}, int, out int)"/> with the next header given: transport mode's
    /// payload is the IP packet's upper-layer data and its next header the packet's protocol (RFC 4303 §3.1.1).
    /// </summary>
    internal static EspStatus Encapsulate(EspSa sa, Span<byte> buffer, int innerLength, byte nextHeader, out int written)
    {
        written = 0;
        EspCipher geometry = sa.OutboundGeometry;
        int headroom = geometry.HeaderLength;
        if (innerLength <= 0 || headroom + innerLength > buffer.Length)
            return EspStatus.BadInnerPacket;
        int total = SealedLength(geometry, innerLength);
        if (total > MaxPacketLength)
            return EspStatus.Oversize;
        if (total > buffer.Length)
            return EspStatus.BufferTooSmall;

        // Only now: a refused packet must not burn a sequence number.
        var sequence = sa.NextSequence(out ulong seq);
        if (sequence != EspStatus.Ok)
            return sequence;

        Span<byte> iv = stackalloc byte[16];
        iv = iv.Slice(0, geometry.IvLength);
        if (sa.FixedIvForTest is { } fixedIv)
            fixedIv.CopyTo(iv);
        else if (geometry is AeadEspCipher)
            // AEAD (RFC 4106 §3.1, RFC 7634 §2): the IV must never repeat under one key; the 64-bit
            // sequence number never does within an SA, and each direction has its own key.
            BinaryPrimitives.WriteUInt64BigEndian(iv, seq);
        else
            // CBC (RFC 3602 §3): the IV must be unpredictable.
            RandomNumberGenerator.Fill(iv);

        OutboundLane lane = sa.RentLane(out int laneIndex);
        written = Seal(lane.Cipher, sa.OutboundSpi, seq, sa.Esn, iv, nextHeader, buffer, innerLength);
        EspSa.CountOutbound(lane, innerLength);
        sa.ReturnLane(laneIndex, lane);
        return EspStatus.Ok;
    }

    /// <summary>
    /// Stage O4 without SA state: frames and seals the payload at buffer[cipher.HeaderLength..]
    /// with minimal padding (1, 2, 3, ...) and returns the ESP packet length. Also the vector hook.
    /// </summary>
    internal static int Seal(EspCipher cipher, uint spi, ulong seq, bool esn, ReadOnlySpan<byte> iv, byte nextHeader, Span<byte> buffer, int payloadLength)
    {
        int total = SealedLength(cipher, payloadLength);
        BinaryPrimitives.WriteUInt32BigEndian(buffer, spi);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.Slice(4), (uint)seq); // low half only on the wire
        iv.CopyTo(buffer.Slice(HeaderLength, cipher.IvLength));
        int padStart = cipher.HeaderLength + payloadLength;
        int trailer = total - cipher.IcvLength - TrailerLength;
        int padLength = trailer - padStart;
        for (int i = 0; i < padLength; i++)
            buffer[padStart + i] = (byte)(i + 1);
        buffer[trailer] = (byte)padLength;
        buffer[trailer + 1] = nextHeader;
        cipher.Seal(buffer.Slice(0, total), (uint)(seq >> 32), esn);
        return total;
    }

    /// <summary>
    /// Stages I1, I3-I7 for one SA (the caller did I2 and holds an SA reference). Must run on the
    /// worker that owns the inbound SPI. On <see cref="EspStatus.Ok"/> <paramref name="inner"/> is
    /// the decrypted inner IP packet within <paramref name="packet"/>.
    /// </summary>
    internal static EspStatus Decapsulate(EspSa sa, Span<byte> packet, out Range inner) =>
        Decapsulate(sa, packet, out inner, out _);

    /// <summary>As <see cref="Decapsulate(EspSa, Span{byte}, out Range)"/>, with the trailer's next header. A transport-mode
    /// SA's payload is the upper-layer data of any protocol (59 is still a dummy); a tunnel-mode SA's an IP packet.</summary>
    internal static EspStatus Decapsulate(EspSa sa, Span<byte> packet, out Range inner, out byte nextHeader)
    {
        inner = default;
        nextHeader = NextHeaderNone;
        EspCipher cipher = sa.InboundCipher;
        EspStatus status = CheckLength(cipher, packet.Length);
        if (status != EspStatus.Ok)
            return status;

        uint seqLow = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(4));
        ReplayWindow window = sa.Window;
        ulong seq = seqLow;
        if (sa.Esn && !window.TryInfer(seqLow, out seq))
            return EspStatus.Replay;
        if (!window.Check(seq))
            return EspStatus.Replay;

        if (!cipher.Open(packet, (uint)(seq >> 32), sa.Esn))
            return EspStatus.AuthFailed;
        // Authenticated: the peer really sent this number, whatever the trailer says.
        window.Update(seq);

        status = ParseTrailer(cipher, packet, out int payloadLength, out nextHeader);
        if (status != EspStatus.Ok)
            return status;
        status = sa.Mode == IpsecMode.Transport
            ? nextHeader == NextHeaderNone ? EspStatus.Dummy : EspStatus.Ok
            : ClassifyNextHeader(nextHeader, packet.Slice(cipher.HeaderLength, payloadLength));
        if (status != EspStatus.Ok)
            return status;

        inner = new Range(cipher.HeaderLength, cipher.HeaderLength + payloadLength);
        sa.CountInbound(payloadLength);
        return EspStatus.Ok;
    }

    /// <summary>Stage I1: header + IV + aligned encrypted part (at least the 2-byte trailer) + ICV.</summary>
    internal static EspStatus CheckLength(EspCipher cipher, int length)
    {
        int encrypted = length - cipher.HeaderLength - cipher.IcvLength;
        if (encrypted < cipher.Alignment)
            return EspStatus.Truncated;
        if (length > MaxPacketLength)
            return EspStatus.Oversize;
        if (encrypted % cipher.Alignment != 0)
            return EspStatus.BadLength;
        return EspStatus.Ok;
    }

    /// <summary>Stage I6a on a decrypted packet: pad length fits and the padding is 1, 2, 3, ... (RFC 4303 §2.4).</summary>
    internal static EspStatus ParseTrailer(EspCipher cipher, ReadOnlySpan<byte> packet, out int payloadLength, out byte nextHeader)
    {
        int trailer = packet.Length - cipher.IcvLength - TrailerLength;
        int padLength = packet[trailer];
        nextHeader = packet[trailer + 1];
        payloadLength = trailer - padLength - cipher.HeaderLength;
        if (payloadLength < 0)
        {
            payloadLength = 0;
            return EspStatus.BadPadding;
        }
        ReadOnlySpan<byte> padding = packet.Slice(cipher.HeaderLength + payloadLength, padLength);
        for (int i = 0; i < padding.Length; i++)
        {
            if (padding[i] != (byte)(i + 1))
                return EspStatus.BadPadding;
        }
        return EspStatus.Ok;
    }

    /// <summary>Stage I6b: tunnel mode carries IPv4 (4) or IPv6 (41), matching the inner version; 59 is a dummy.</summary>
    internal static EspStatus ClassifyNextHeader(byte nextHeader, ReadOnlySpan<byte> payload)
    {
        if (nextHeader == NextHeaderNone)
            return EspStatus.Dummy;
        int version = payload.IsEmpty ? 0 : payload[0] >> 4;
        return (nextHeader, version) switch
        {
            (NextHeaderIpv4, 4) => EspStatus.Ok,
            (NextHeaderIpv6, 6) => EspStatus.Ok,
            _ => EspStatus.BadNextHeader,
        };
    }
}

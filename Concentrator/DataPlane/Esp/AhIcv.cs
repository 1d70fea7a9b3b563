// AH's Integrity Check Value, RFC 4302 §3.3.3: computed over the whole IP packet with HMAC-SHA2-256-128, -384-192 or
// -512-256 (RFC 4868 §2.3: the HMAC truncated to half the hash; HMAC-SHA1-96 for WeakAlgorithms' legacy peers), through
// .NET's one-shot HMAC (System.Security.Cryptography over OpenSSL; no primitive is written here). Its input, in order:
// the IP header with its mutable fields zeroed (§3.3.3.1), the AH header with the ICV zeroed (its padding as sent), the
// payload, and with ESN the high 32 bits of the sequence number, appended for the computation only (§3.3.3.2.1).
// Mutable fields:
//   IPv4 (§3.3.3.1.1, Appendix A.1): TOS (DSCP and ECN), flags, fragment offset, TTL, header checksum. Options: End of
//        List, No Operation, Security, Extended Security, Commercial Security, Router Alert and Sender Directed
//        Multi-Destination Delivery are immutable; Record Route and Timestamp are mutable and zeroed whole (type, length
//        and data, as Linux's ah4 and scapy do); Loose and Strict Source Route ("mutable but predictable") and every
//        option not classified here are refused (BadIpOption: the packet is dropped and counted, never guessed at).
//   IPv6 (§3.3.3.1.2, Appendix A.2): traffic class, flow label, hop limit. Hop-by-Hop and Destination Options headers
//        before AH: the data of an option whose type has bit 0x20 set may change en route and is zeroed. A Routing header
//        (its addresses reorder en route) or a Fragment header (AH only ever sees reassembled packets) before AH: refused.
// The header bytes are saved on the stack, zeroed in place and restored after the HMAC: the packet leaves as it came.
// Hot path: spans in, status out; no allocation, LINQ, closures, locks or exceptions.
using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

public static class AhIcv
{
    /// <summary>Largest ICV (HMAC-SHA2-512-256).</summary>
    public const int MaxIcvLength = 32;

    /// <summary>Largest HMAC output (SHA-512).</summary>
    public const int MaxMacLength = 64;

    /// <summary>Most bytes of IPv6 extension headers accepted before AH (Hop-by-Hop and Destination Options).</summary>
    public const int MaxIpv6ExtensionBytes = 256;

    private const int Ipv4MinHeader = 20;
    private const int Ipv6Header = 40;
    private const int MaxIpHeaderBytes = Ipv6Header + MaxIpv6ExtensionBytes;

    /// <summary>Bytes the ESN computation appends after the packet (its buffer must hold them).</summary>
    public const int EsnRoom = 4;

    /// <summary>Truncated ICV bytes of <paramref name="alg"/> (RFC 4868 §2.3, RFC 2404).</summary>
    public static int IcvLength(IntegAlgorithm alg) => Algorithms.IntegrityIcvLength(alg);

    /// <summary>Whether the data plane can compute the ICV of <paramref name="alg"/>.</summary>
    public static bool IsSupported(IntegAlgorithm alg) => alg is
        IntegAlgorithm.HmacSha1_96 or IntegAlgorithm.HmacSha2_256_128 or IntegAlgorithm.HmacSha2_384_192 or IntegAlgorithm.HmacSha2_512_256;

    /// <summary>
    /// Where AH starts in <paramref name="packet"/>, a whole IPv4 or IPv6 packet: after the IPv4 header whose protocol is 51,
    /// or after the IPv6 header and the Hop-by-Hop/Destination Options headers before the one whose next header is 51.
    /// </summary>
    public static EspStatus Locate(ReadOnlySpan<byte> packet, out bool ipv6, out int ahOffset)
    {
        ahOffset = 0;
        ipv6 = false;
        if (packet.Length < Ipv4MinHeader) return EspStatus.Truncated;
        int version = packet[0] >> 4;
        if (version == 4)
        {
            int ihl = (packet[0] & 0x0F) * 4;
            if (ihl < Ipv4MinHeader || ihl > packet.Length) return EspStatus.Truncated;
            if (packet[9] != AhHeader.Protocol) return EspStatus.BadNextHeader;
            ahOffset = ihl;
            return EspStatus.Ok;
        }
        if (version != 6) return EspStatus.BadInnerPacket;
        ipv6 = true;
        if (packet.Length < Ipv6Header) return EspStatus.Truncated;
        byte next = packet[6];
        int offset = Ipv6Header;
        while (next != AhHeader.Protocol)
        {
            if (next is 43 or 44) return EspStatus.BadIpOption;
            if (next is not (0 or 60)) return EspStatus.BadNextHeader;
            if (offset + 2 > packet.Length) return EspStatus.Truncated;
            int length = (packet[offset + 1] + 1) * 8;
            if (offset + length > packet.Length) return EspStatus.Truncated;
            if (offset + length - Ipv6Header > MaxIpv6ExtensionBytes) return EspStatus.BadIpOption;
            next = packet[offset];
            offset += length;
        }
        ahOffset = offset;
        return EspStatus.Ok;
    }

    /// <summary>
    /// The full HMAC (its first <see cref="IcvLength"/> bytes are the ICV) of the packet in <paramref name="buffer"/>[..
    /// <paramref name="length"/>], whose AH (at <paramref name="ahOffset"/>, found by <see cref="Locate"/>) already has a
    /// zeroed ICV. With <paramref name="esn"/> the buffer holds <see cref="EsnRoom"/> bytes after the packet, which this
    /// overwrites. <see cref="EspStatus.BadIpOption"/> for an IP header field this does not classify.
    /// </summary>
    public static EspStatus Compute(IntegAlgorithm alg, ReadOnlySpan<byte> key, Span<byte> buffer, int length, int ahOffset, bool ipv6,
        bool esn, uint seqHigh, Span<byte> mac)
    {
        if (ahOffset > MaxIpHeaderBytes || ahOffset > length) return EspStatus.BadIpOption;
        if (esn && buffer.Length < length + EsnRoom) return EspStatus.BufferTooSmall;
        Span<byte> saved = stackalloc byte[MaxIpHeaderBytes];
        var header = buffer[..ahOffset];
        header.CopyTo(saved);
        var status = ipv6 ? ZeroMutable6(header) : ZeroMutable4(header);
        if (status == EspStatus.Ok)
        {
            int inputLength = length;
            if (esn)
            {
                BinaryPrimitives.WriteUInt32BigEndian(buffer.Slice(length, EsnRoom), seqHigh);
                inputLength += EsnRoom;
            }
            Hmac(alg, key, buffer[..inputLength], mac);
        }
        saved[..ahOffset].CopyTo(header);
        return status;
    }

    /// <summary>HMAC of <paramref name="input"/> with the hash of <paramref name="alg"/>, the whole output written.</summary>
    public static void Hmac(IntegAlgorithm alg, ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> mac)
    {
        switch (alg)
        {
            case IntegAlgorithm.HmacSha1_96: HMACSHA1.HashData(key, input, mac); break;
            case IntegAlgorithm.HmacSha2_256_128: HMACSHA256.HashData(key, input, mac); break;
            case IntegAlgorithm.HmacSha2_384_192: HMACSHA384.HashData(key, input, mac); break;
            default: HMACSHA512.HashData(key, input, mac); break;
        }
    }

    /// <summary>IPv4: TOS, flags + fragment offset, TTL and checksum zeroed; options per Appendix A.1.</summary>
    internal static EspStatus ZeroMutable4(Span<byte> h)
    {
        h[1] = 0;
        h[6] = 0;
        h[7] = 0;
        h[8] = 0;
        h[10] = 0;
        h[11] = 0;
        int i = Ipv4MinHeader;
        while (i < h.Length)
        {
            byte type = h[i];
            if (type == 0) break; // End of Options List: what follows is padding
            if (type == 1)
            {
                i++;
                continue;
            }
            if (i + 1 >= h.Length) return EspStatus.BadIpOption;
            int length = h[i + 1];
            if (length < 2 || i + length > h.Length) return EspStatus.BadIpOption;
            switch (type)
            {
                case 130: // Security
                case 133: // Extended Security
                case 134: // Commercial Security
                case 148: // Router Alert
                case 149: // Sender Directed Multi-Destination Delivery
                    break;
                case 7: // Record Route
                case 68: // Timestamp
                    h.Slice(i, length).Clear();
                    break;
                default:
                    return EspStatus.BadIpOption;
            }
            i += length;
        }
        return EspStatus.Ok;
    }

    /// <summary>IPv6: traffic class, flow label and hop limit zeroed; mutable option data of the headers before AH zeroed.</summary>
    internal static EspStatus ZeroMutable6(Span<byte> h)
    {
        h[0] &= 0xF0;
        h[1] = 0;
        h[2] = 0;
        h[3] = 0;
        h[7] = 0;
        int offset = Ipv6Header;
        while (offset < h.Length)
        {
            int end = offset + (h[offset + 1] + 1) * 8; // Locate checked every extension header's bounds
            int j = offset + 2;
            while (j < end)
            {
                byte type = h[j];
                if (type == 0) // Pad1
                {
                    j++;
                    continue;
                }
                if (j + 1 >= end) return EspStatus.BadIpOption;
                int dataLength = h[j + 1];
                if (j + 2 + dataLength > end) return EspStatus.BadIpOption;
                if ((type & 0x20) != 0) h.Slice(j + 2, dataLength).Clear();
                j += 2 + dataLength;
            }
            offset = end;
        }
        return EspStatus.Ok;
    }
}

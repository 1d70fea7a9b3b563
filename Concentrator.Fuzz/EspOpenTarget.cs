using System.Buffers.Binary;
using System.Net;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// esp-open: ESP past its integrity check. The input is the plaintext; the target encrypts it for one SA with that SA's
/// keys and the sequence number it names, then opens it as the receive path does (replay window with ESN inference, ICV,
/// trailer, next header, the inner packet against the SA's selectors, RFC 4301 §5.2) and parses the inner packet as the
/// Linux plane does. esp-decap, by contrast, rarely gets past the ICV.
/// <code>
/// input[0]    bits 0-1 suite (see <see cref="Suites"/>: AES-GCM-16/256, ChaCha20-Poly1305, AES-CBC-128 + HMAC-SHA2-256-128,
///             AES-GCM-16/128); bit 2 ESN; bit 3 framing: 0 the target appends padding 1, 2, 3..., pad length and next
///             header; 1 the input is the whole encrypted part, trailer included (zero-filled to the cipher's alignment)
/// input[1..4] sequence number, low 32 bits; input[5..8] high 32 bits (sealed into the ICV with ESN, never sent)
/// input[9]    next header (framing 0)
/// input[10..] payload
/// </code>
/// A fresh SA per input keeps the replay window from making the target stateful. Besides any exception, a crash is an
/// ICV that fails although the packet was sealed with the SA's own keys (without ESN), or an inner range outside the
/// packet.
/// </summary>
public static class EspOpenTarget
{
    public const uint Spi = 0xC0FFEE11;
    public const int HeaderBytes = 10;

    public static readonly EspSuite[] Suites =
    [
        new(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false),
        new(EncrAlgorithm.ChaCha20Poly1305, 256, IntegAlgorithm.None, DhGroup.None, false),
        new(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false),
        new(EncrAlgorithm.AesGcm16, 128, IntegAlgorithm.None, DhGroup.None, false),
    ];

    /// <summary>The SA's selectors: the remote ones hold the inner source, the local ones the destination.</summary>
    private static readonly TrafficSelector[] RemoteTs =
    [
        new(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Parse("10.200.0.0"), IPAddress.Parse("10.200.255.255")),
        new(TsType.Ipv6AddressRange, 17, 1024, 65535, IPAddress.Parse("2001:db8:1::"), IPAddress.Parse("2001:db8:1::ffff")),
    ];

    private static readonly TrafficSelector[] LocalTs =
    [
        new(TsType.Ipv4AddressRange, 6, 0, 443, IPAddress.Parse("10.10.0.0"), IPAddress.Parse("10.10.255.255")),
        new(TsType.Ipv4AddressRange, 1, 0, 65535, IPAddress.Parse("10.11.0.1"), IPAddress.Parse("10.11.0.1")),
        new(TsType.Ipv6AddressRange, 0, 0, 65535, IPAddress.Parse("2001:db8::"), IPAddress.Parse("2001:db8::ffff")),
    ];

    public static EspSuite Suite(byte selector) => Suites[selector & 3] with { Esn = (selector & 4) != 0 };

    /// <summary>The SA's inbound keys (the peer's outbound ones, which seal).</summary>
    public static (byte[] Encryption, byte[] Integrity) Keys(EspSuite suite)
    {
        int enc = Algorithms.EncryptionKeyMaterialLength(suite.Encryption, suite.KeyBits);
        int integ = suite.Integrity == IntegAlgorithm.None ? 0 : Algorithms.IntegrityKeyLength(suite.Integrity);
        var e = new byte[enc];
        var a = new byte[integ];
        for (int i = 0; i < enc; i++) e[i] = (byte)(0x91 + i);
        for (int i = 0; i < integ; i++) a[i] = (byte)(0xA7 + i);
        return (e, a);
    }

    public static ChildSaInstall Install(EspSuite suite)
    {
        var (e, a) = Keys(suite);
        return new ChildSaInstall(Spi, Spi + 1, suite, e, a, e.ToArray(), a.ToArray(), LocalTs, RemoteTs,
            new IPEndPoint(IPAddress.Parse("192.0.2.2"), 4500), new IPEndPoint(IPAddress.Parse("192.0.2.1"), 4500),
            EspTransport.UdpEncapsulated, 64, "fuzz", "fuzz");
    }

    /// <summary>The ESP packet the target opens for an input (null when the input is too short).</summary>
    public static byte[]? Seal(ReadOnlySpan<byte> input)
    {
        if (input.Length < HeaderBytes) return null;
        var suite = Suite(input[0]);
        bool raw = (input[0] & 8) != 0;
        uint seqLow = BinaryPrimitives.ReadUInt32BigEndian(input[1..]);
        uint seqHigh = BinaryPrimitives.ReadUInt32BigEndian(input[5..]);
        var payload = input[HeaderBytes..];
        var (e, a) = Keys(suite);
        using var cipher = EspCipher.Create(suite, e, a);

        int encrypted = raw
            ? payload.Length + (cipher.Alignment - payload.Length % cipher.Alignment) % cipher.Alignment
            : EspPacket.SealedLength(cipher, payload.Length) - cipher.HeaderLength - cipher.IcvLength;
        if (cipher.HeaderLength + encrypted + cipher.IcvLength > EspPacket.MaxPacketLength) return null;
        var packet = new byte[cipher.HeaderLength + encrypted + cipher.IcvLength];
        BinaryPrimitives.WriteUInt32BigEndian(packet, Spi);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), seqLow);
        // A fixed IV: the target seals each input once, under keys of its own.
        for (int i = 0; i < cipher.IvLength; i++) packet[EspPacket.HeaderLength + i] = (byte)(0x30 + i);
        payload.CopyTo(packet.AsSpan(cipher.HeaderLength));
        if (!raw)
        {
            int trailer = cipher.HeaderLength + encrypted - EspPacket.TrailerLength;
            int padStart = cipher.HeaderLength + payload.Length;
            for (int i = 0; padStart + i < trailer; i++) packet[padStart + i] = (byte)(i + 1);
            packet[trailer] = (byte)(trailer - padStart);
            packet[trailer + 1] = input[9];
        }

        cipher.Seal(packet, seqHigh, suite.Esn);
        return packet;
    }

    /// <summary>Opens the input's packet; the status the receive path gave it.</summary>
    public static EspStatus Run(ReadOnlySpan<byte> input)
    {
        if (Seal(input) is not { } packet) return EspStatus.Truncated;
        var suite = Suite(input[0]);
        using var sas = new SaTable();
        sas.Add(Install(suite));
        var status = EspPipeline.Open(sas, packet, EspTransport.UdpEncapsulated, out var inner);
        // Sealed with the SA's own keys: only a sequence number the window refuses may keep it from opening (with ESN
        // the ICV also covers the high half the window infers, which the input may well name differently).
        if (status == EspStatus.AuthFailed && !suite.Esn)
        {
            throw new InvalidOperationException($"{suite.Encryption}: a packet sealed with the SA's own keys failed its ICV");
        }

        if (status != EspStatus.Ok) return status;
        var (offset, length) = inner.GetOffsetAndLength(packet.Length);
        if (offset < 0 || length < 0 || offset + length > packet.Length) throw new InvalidOperationException("inner range outside the packet");
        _ = PacketFields.TryParse(packet.AsSpan(offset, length), out _);
        return status;
    }
}

using System.Buffers.Binary;
using System.Net;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Wire;

/// <summary>Sample payloads and messages shared by the wire tests.</summary>
internal static class WireSamples
{
    public const ulong Spii = 0x0102030405060708;
    public const ulong Spir = 0x1112131415161718;

    // A hand-built IKE_SA_INIT request, field by field from RFC 7296 §3.1–§3.10 (212 octets).
    public const string IkeSaInitHex =
        // IKE header (§3.1): SPIi, SPIr = 0, Next = SA(33), Version 2.0, IKE_SA_INIT(34), Flags = I, MID 0, Length 212
        "0102030405060708" + "0000000000000000" + "21" + "20" + "22" + "08" + "00000000" + "000000D4" +
        // SA (§3.3): Next = KE(34), C=0, Length 48
        "22" + "00" + "0030" +
        //   Proposal (§3.3.1): Last(0), RESERVED, Length 44, Num 1, Protocol IKE(1), SPI size 0, 4 transforms
        "00" + "00" + "002C" + "01" + "01" + "00" + "04" +
        //   Transform (§3.3.2): More(3), Length 12, ENCR(1), AES-CBC(12), attribute AF|Key Length(14) = 256
        "03" + "00" + "000C" + "01" + "00" + "000C" + "800E" + "0100" +
        //   Transform: More(3), Length 8, PRF(2), HMAC-SHA2-256(5)
        "03" + "00" + "0008" + "02" + "00" + "0005" +
        //   Transform: More(3), Length 8, INTEG(3), HMAC-SHA2-256-128(12)
        "03" + "00" + "0008" + "03" + "00" + "000C" +
        //   Transform: Last(0), Length 8, D-H(4), ECP-256(19)
        "00" + "00" + "0008" + "04" + "00" + "0013" +
        // KE (§3.4): Next = Nonce(40), Length 72, group 19, RESERVED, 64 octets of key data
        "28" + "00" + "0048" + "0013" + "0000" +
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F" +
        // Nonce (§3.9): Next = Notify(41), Length 36, 32 octets
        "29" + "00" + "0024" + "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF" +
        // Notify (§3.10): Next = None, Length 28, Protocol 0, SPI size 0, NAT_DETECTION_SOURCE_IP(16388), 20 octets
        "00" + "00" + "001C" + "00" + "00" + "4004" + "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3";

    public static byte[] IkeSaInit => Convert.FromHexString(IkeSaInitHex);

    /// <summary>Offsets of the generic payload headers in <see cref="IkeSaInit"/>.</summary>
    public static readonly int[] IkeSaInitPayloadOffsets = [28, 76, 148, 184];

    public static IkeHeader Header(ExchangeType exchange, IkeFlags flags = IkeFlags.Initiator, uint messageId = 0) =>
        new(Spii, Spir, PayloadType.None, 2, 0, exchange, flags, messageId, 0);

    public static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static SaPayload IkeSa() => new(
    [
        new Proposal(1, ProtocolId.Ike, [],
        [
            new Transform(TransformType.Encryption, (ushort)EncrAlgorithm.AesGcm16, 256),
            new Transform(TransformType.Prf, (ushort)PrfAlgorithm.HmacSha2_384),
            new Transform(TransformType.DiffieHellman, (ushort)DhGroup.Curve25519),
        ]),
        new Proposal(2, ProtocolId.Ike, [],
        [
            new Transform(TransformType.Encryption, (ushort)EncrAlgorithm.AesCbc, 128),
            new Transform(TransformType.Prf, (ushort)PrfAlgorithm.HmacSha2_256),
            new Transform(TransformType.Integrity, (ushort)IntegAlgorithm.HmacSha2_256_128),
            new Transform(TransformType.DiffieHellman, (ushort)DhGroup.Ecp256),
        ]),
    ]);

    public static SaPayload EspSa() => new(
    [
        new Proposal(1, ProtocolId.Esp, [0xC0, 0x01, 0x02, 0x03],
        [
            new Transform(TransformType.Encryption, (ushort)EncrAlgorithm.AesGcm16, 256),
            new Transform(TransformType.ExtendedSequenceNumbers, (ushort)EsnMode.NoEsn),
        ]),
    ]);

    public static KePayload Ke() => new(DhGroup.Ecp256, Bytes(64, 1));
    public static NoncePayload Nonce() => new(Bytes(32, 2));
    public static IdPayload IdI() => new(PayloadType.IdInitiator, IdType.Fqdn, "client.example.org"u8.ToArray());
    public static IdPayload IdR() => new(PayloadType.IdResponder, IdType.Ipv4Address, [192, 0, 2, 1]);
    public static AuthPayload Auth() => new(AuthMethod.SharedKeyMic, Bytes(32, 3));
    public static NotifyPayload NatSrc() => new(NotifyType.NatDetectionSourceIp, Bytes(20, 4));
    public static NotifyPayload RekeySa() => new(NotifyType.RekeySa, null, ProtocolId.Esp, [1, 2, 3, 4]);
    public static DeletePayload DeleteEsp() => new(ProtocolId.Esp, [[1, 2, 3, 4], [5, 6, 7, 8]]);
    public static DeletePayload DeleteIke() => new(ProtocolId.Ike, []);
    public static VendorIdPayload Vid() => new(Bytes(16, 5));

    public static TsPayload TsI() => new(PayloadType.TsInitiator,
    [
        new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Parse("10.0.0.0"), IPAddress.Parse("10.0.255.255")),
        new TrafficSelector(TsType.Ipv6AddressRange, 17, 500, 500, IPAddress.Parse("2001:db8::"), IPAddress.Parse("2001:db8::ffff")),
    ]);

    public static TsPayload TsR() => new(PayloadType.TsResponder,
    [
        new TrafficSelector(TsType.Ipv4AddressRange, 6, 443, 443, IPAddress.Parse("192.0.2.0"), IPAddress.Parse("192.0.2.255")),
    ]);

    public static ConfigPayload Cp() => new(ConfigType.Request,
    [
        new ConfigAttribute(ConfigAttributeType.InternalIp4Address, []),
        new ConfigAttribute(ConfigAttributeType.InternalIp4Dns, []),
        new ConfigAttribute(ConfigAttributeType.InternalIp6Address, Bytes(17, 6)),
    ]);

    public static CertPayload Cert() => new(PayloadType.Certificate, CertEncoding.X509Signature, Bytes(300, 7));
    public static CertPayload CertReq() => new(PayloadType.CertificateRequest, CertEncoding.X509Signature, Bytes(40, 8));
    public static EapPayload Eap() => new([2, 7, 0, 9, 1, (byte)'u', (byte)'s', (byte)'e', (byte)'r']);

    /// <summary>One payload of every plaintext type, as an IKE_AUTH-like chain would carry them.</summary>
    public static List<Payload> AllPayloads() =>
    [
        IdI(), Cert(), CertReq(), IdR(), Auth(), Cp(), EspSa(), TsI(), TsR(), NatSrc(), RekeySa(), DeleteEsp(),
        DeleteIke(), Vid(), Eap(), Ke(), Nonce(), new UnknownPayload((PayloadType)200, [9, 9, 9]),
    ];

    public static byte[] WithUInt16(byte[] source, int offset, ushort value)
    {
        var copy = (byte[])source.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(offset), value);
        return copy;
    }

    public static byte[] WithByte(byte[] source, int offset, byte value)
    {
        var copy = (byte[])source.Clone();
        copy[offset] = value;
        return copy;
    }

    /// <summary>Sets the IKE header Length field to the buffer length, so only the payload chain is judged.</summary>
    public static byte[] FixHeaderLength(byte[] datagram)
    {
        if (datagram.Length >= ProtocolConstants.IkeHeaderLength)
        {
            BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(24), (uint)datagram.Length);
        }

        return datagram;
    }

    public static byte[] EncodeBody(Payload p)
    {
        var body = new byte[p.BodyLength];
        var w = new SpanWriter(body);
        p.WriteBody(ref w);
        Assert.Equal(body.Length, w.Position);
        return body;
    }
}

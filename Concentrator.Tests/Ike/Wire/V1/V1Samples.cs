using Concentrator.Ike.Wire.V1;

namespace Concentrator.Tests.Ike.Wire.V1;

/// <summary>IKEv1 messages for the codec tests: one payload of every kind, and a main mode first message written by hand.</summary>
internal static class V1Samples
{
    public const ulong ICookie = 0x0102030405060708;
    public const ulong RCookie = 0x1112131415161718;

    public static byte[] Bytes(int count, byte seed) => Enumerable.Range(0, count).Select(i => (byte)(seed + i)).ToArray();

    public static IsakmpHeader Header(V1ExchangeType exchange, V1Flags flags = V1Flags.None, uint messageId = 0) =>
        new(ICookie, RCookie, V1PayloadType.None, 1, 0, exchange, flags, messageId, 0);

    /// <summary>A phase 1 offer: AES-CBC-256, SHA2-256, PSK, MODP-2048, 28800 s (the life duration as a variable attribute).</summary>
    public static V1SaPayload Phase1Sa() => new([
        new V1Proposal(1, V1ProtocolId.Isakmp, [], [
            new V1Transform(1, (byte)IsakmpTransformId.KeyIke, [
                DataAttribute.OfBasic((ushort)Phase1AttributeType.EncryptionAlgorithm, (ushort)Phase1Encryption.AesCbc),
                DataAttribute.OfBasic((ushort)Phase1AttributeType.KeyLength, 256),
                DataAttribute.OfBasic((ushort)Phase1AttributeType.HashAlgorithm, (ushort)Phase1Hash.Sha2_256),
                DataAttribute.OfBasic((ushort)Phase1AttributeType.AuthenticationMethod, (ushort)Phase1AuthMethod.PreSharedKey),
                DataAttribute.OfBasic((ushort)Phase1AttributeType.GroupDescription, 14),
                DataAttribute.OfBasic((ushort)Phase1AttributeType.LifeType, (ushort)LifeType.Seconds),
                DataAttribute.OfVariable((ushort)Phase1AttributeType.LifeDuration, [0x00, 0x00, 0x70, 0x80]),
            ]),
            new V1Transform(2, (byte)IsakmpTransformId.KeyIke, [
                DataAttribute.OfBasic((ushort)Phase1AttributeType.EncryptionAlgorithm, (ushort)Phase1Encryption.TripleDesCbc),
                DataAttribute.OfBasic((ushort)Phase1AttributeType.HashAlgorithm, (ushort)Phase1Hash.Sha1),
            ]),
        ]),
    ]);

    /// <summary>A quick mode offer: ESP AES-CBC-128 with HMAC-SHA2-256, UDP-encapsulated tunnel, and a second proposal.</summary>
    public static V1SaPayload QuickModeSa() => new([
        new V1Proposal(1, V1ProtocolId.Esp, [0xc0, 0x01, 0x02, 0x03], [
            new V1Transform(1, (byte)EspTransformId.AesCbc, [
                DataAttribute.OfBasic((ushort)Phase2AttributeType.KeyLength, 128),
                DataAttribute.OfBasic((ushort)Phase2AttributeType.AuthenticationAlgorithm, (ushort)Phase2AuthAlgorithm.HmacSha2_256),
                DataAttribute.OfBasic((ushort)Phase2AttributeType.EncapsulationMode, (ushort)EncapsulationMode.UdpTunnel),
                DataAttribute.OfBasic((ushort)Phase2AttributeType.GroupDescription, 14),
            ]),
        ]),
        new V1Proposal(2, V1ProtocolId.Esp, [0xc0, 0x01, 0x02, 0x03], [
            new V1Transform(1, (byte)EspTransformId.AesGcm16, [DataAttribute.OfBasic((ushort)Phase2AttributeType.KeyLength, 256)]),
        ]),
    ]);

    /// <summary>One payload of every kind the codec knows.</summary>
    public static List<V1Payload> AllPayloads() =>
    [
        Phase1Sa(),
        new V1DataPayload(V1PayloadType.KeyExchange, Bytes(256, 1)),
        new V1DataPayload(V1PayloadType.Nonce, Bytes(32, 2)),
        new V1IdPayload(V1IdType.Ipv4Address, [192, 0, 2, 1], 17, 500),
        new V1IdPayload(V1IdType.Ipv4Subnet, [10, 1, 0, 0, 255, 255, 0, 0]),
        new V1IdPayload(V1IdType.Ipv6Range, [.. Bytes(16, 0), .. Bytes(16, 1)]),
        new V1IdPayload(V1IdType.Fqdn, "gw.example"u8.ToArray()),
        new V1CertPayload(V1CertEncoding.X509Signature, Bytes(40, 3)),
        new V1CertPayload(V1CertEncoding.X509Signature, [], request: true),
        new V1DataPayload(V1PayloadType.Hash, Bytes(32, 4)),
        new V1DataPayload(V1PayloadType.Signature, Bytes(64, 5)),
        new V1NotificationPayload(V1NotifyType.InitialContact, V1ProtocolId.Isakmp, Bytes(16, 6)),
        new V1NotificationPayload(V1NotifyType.DpdRUThere, V1ProtocolId.Isakmp, Bytes(16, 6), [0, 0, 0, 7]),
        new V1DeletePayload(V1ProtocolId.Esp, [Bytes(4, 8), Bytes(4, 9)]),
        new V1DataPayload(V1PayloadType.VendorId, Bytes(16, 10)),
        new V1DataPayload(V1PayloadType.NatD, Bytes(32, 11)),
        new NatOaPayload([198, 51, 100, 7]),
        new AttributePayload(CfgMessageType.Request, 0x1234, [
            DataAttribute.OfVariable((ushort)CfgAttributeType.InternalIp4Address, []),
            DataAttribute.OfBasic((ushort)CfgAttributeType.XauthType, 0),
            DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserName, "alice"u8.ToArray()),
        ]),
    ];

    /// <summary>
    /// Main mode message 1 written octet by octet from RFC 2408 §3.1/§3.4-3.6 (not by our encoder): an SA with one
    /// ISAKMP proposal, one KEY_IKE transform (3DES-CBC, SHA, PSK, MODP-1024, 28800 s), then a Vendor ID.
    /// </summary>
    public const string MainModeOneHex =
        "0102030405060708 0000000000000000" + // cookies
        "01 10 02 00 00000000 00000068" +      // next SA, v1.0, main mode, no flags, message 0, length 104
        "0d 00 0038 00000001 00000001" +       // SA: next VID, length 56, DOI IPsec, SIT_IDENTITY_ONLY
        "00 00 002c 01 01 00 01" +             // proposal: last, length 44, #1, ISAKMP, no SPI, 1 transform
        "00 00 0024 01 01 0000" +              // transform: last, length 36, #1, KEY_IKE
        "8001 0005 8002 0002 8003 0001 8004 0002 800b 0001 000c 0004 00007080" + // attributes (life as TLV)
        "00 00 0014 4a131c81070358455c5728f20e95452f"; // VID: RFC 3706 DPD, length 20
}

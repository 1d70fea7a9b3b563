using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// ikev1-message: a whole ISAKMP datagram through <see cref="IsakmpCodec"/>. A cleartext message that parses must
/// encode again, and that encoding must parse to the same encoding (reserved fields are dropped once, nothing else
/// changes); an encrypted one has its body walked as a decrypted chain with padding allowed. Any other outcome than a
/// <see cref="ParseStatus"/> is a crash.
/// </summary>
public static class IkeV1MessageTarget
{
    public static void Run(ReadOnlySpan<byte> input)
    {
        if (IsakmpCodec.TryDecode(input, out var message) != ParseStatus.Ok) return;
        if (message is null) throw new InvalidOperationException("TryDecode returned Ok without a message");
        if (message.Header.Encrypted)
        {
            IsakmpCodec.TryDecodeChain(message.Header.NextPayload, message.EncryptedBody, allowPadding: true, []);
            return;
        }

        var again = IsakmpCodec.Encode(message.Header, message.Payloads);
        if (IsakmpCodec.TryDecode(again, out var reparsed) != ParseStatus.Ok)
        {
            throw new InvalidOperationException("a parsed message encoded to bytes that do not parse");
        }

        if (!again.AsSpan().SequenceEqual(IsakmpCodec.Encode(reparsed!.Header, reparsed.Payloads)))
        {
            throw new InvalidOperationException("encoding a parsed message is not stable");
        }
    }

    /// <summary>Seeds: a main mode offer, a quick mode with every payload kind, a DPD notification, an encrypted body.</summary>
    public static IEnumerable<(string Name, byte[] Data)> Seeds()
    {
        var header = new IsakmpHeader(0x0102030405060708, 0, V1PayloadType.None, 1, 0, V1ExchangeType.IdentityProtection, V1Flags.None, 0, 0);
        var phase1 = new V1SaPayload([
            new V1Proposal(1, V1ProtocolId.Isakmp, [], [
                new V1Transform(1, (byte)IsakmpTransformId.KeyIke, [
                    DataAttribute.OfBasic((ushort)Phase1AttributeType.EncryptionAlgorithm, (ushort)Phase1Encryption.AesCbc),
                    DataAttribute.OfBasic((ushort)Phase1AttributeType.KeyLength, 256),
                    DataAttribute.OfBasic((ushort)Phase1AttributeType.HashAlgorithm, (ushort)Phase1Hash.Sha2_256),
                    DataAttribute.OfBasic((ushort)Phase1AttributeType.AuthenticationMethod, (ushort)Phase1AuthMethod.PreSharedKey),
                    DataAttribute.OfBasic((ushort)Phase1AttributeType.GroupDescription, 14),
                    DataAttribute.OfVariable((ushort)Phase1AttributeType.LifeDuration, [0, 0, 0x70, 0x80]),
                ]),
            ]),
        ]);
        yield return ("main-mode-1", IsakmpCodec.Encode(header, [phase1, new V1DataPayload(V1PayloadType.VendorId, new byte[16])]));

        var quick = new V1SaPayload([
            new V1Proposal(1, V1ProtocolId.Esp, [1, 2, 3, 4], [
                new V1Transform(1, (byte)EspTransformId.AesCbc, [
                    DataAttribute.OfBasic((ushort)Phase2AttributeType.KeyLength, 128),
                    DataAttribute.OfBasic((ushort)Phase2AttributeType.EncapsulationMode, (ushort)EncapsulationMode.UdpTunnel),
                ]),
            ]),
        ]);
        yield return ("quick-mode-all", IsakmpCodec.Encode(header with { Exchange = V1ExchangeType.QuickMode, ResponderCookie = 9, MessageId = 7 }, [
            new V1DataPayload(V1PayloadType.Hash, new byte[32]), quick,
            new V1DataPayload(V1PayloadType.Nonce, new byte[32]), new V1DataPayload(V1PayloadType.KeyExchange, new byte[256]),
            new V1IdPayload(V1IdType.Ipv4Subnet, [10, 0, 0, 0, 255, 0, 0, 0]), new V1IdPayload(V1IdType.Ipv6Range, new byte[32]),
            new NatOaPayload([192, 0, 2, 1]), new V1DataPayload(V1PayloadType.NatD, new byte[32]),
            new V1CertPayload(V1CertEncoding.X509Signature, [0x30, 0]), new V1CertPayload(V1CertEncoding.X509Signature, [], request: true),
            new V1DataPayload(V1PayloadType.Signature, new byte[64]),
            new V1DeletePayload(V1ProtocolId.Esp, [[1, 2, 3, 4]]),
            new AttributePayload(CfgMessageType.Request, 1, [DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserName, [])]),
        ]));
        yield return ("dpd", IsakmpCodec.Encode(header with { Exchange = V1ExchangeType.Informational, ResponderCookie = 9, MessageId = 1 }, [
            new V1DataPayload(V1PayloadType.Hash, new byte[20]),
            new V1NotificationPayload(V1NotifyType.DpdRUThere, V1ProtocolId.Isakmp, new byte[16], [0, 0, 0, 1]),
        ]));

        var chain = IsakmpCodec.EncodeChain([new V1DataPayload(V1PayloadType.Hash, new byte[20]), new V1IdPayload(V1IdType.Fqdn, "a"u8.ToArray())]);
        var body = chain.Concat(new byte[16 - chain.Length % 16]).ToArray();
        var encrypted = new byte[V1Constants.HeaderLength + body.Length];
        (header with { NextPayload = V1PayloadType.Hash, Flags = V1Flags.Encryption, ResponderCookie = 9, Length = (uint)encrypted.Length }).Write(encrypted);
        body.CopyTo(encrypted, V1Constants.HeaderLength);
        yield return ("encrypted-body", encrypted);
    }
}

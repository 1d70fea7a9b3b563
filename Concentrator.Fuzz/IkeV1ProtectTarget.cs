using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// ikev1-protect: an encrypted ISAKMP message opened by <see cref="V1MessageProtector"/> with a fixed key and IV, then
/// its plaintext parsed as a decrypted chain.
/// <code>
/// input[0]  bit 0: cipher (0 AES-CBC-256, 1 3DES-CBC); bit 1: exchange (0 main mode, M-ID 0, the phase 1 IV;
///           1 quick mode, M-ID <see cref="QuickMessageId"/>, after phase 1 completed: the Appendix B phase 2 IV)
/// input[1]  the header's Next Payload (the first encrypted payload)
/// input[2..] the ciphertext
/// </code>
/// The seeds are sealed with the same key and IV, so the campaign's mutations reach the decrypted parser (CBC: a changed
/// ciphertext octet garbles its block and flips the same bit of the next one). Besides any exception, a crash is an
/// opened message that changed the protector's IV: opening it a second time must give the same plaintext, because a
/// received message moves no IV until its HASH was verified and the caller commits (this target never commits).
/// </summary>
public static class IkeV1ProtectTarget
{
    public const uint QuickMessageId = 0x5eed0001;
    private const ulong CookieI = 0x0102030405060708;
    private const ulong CookieR = 0x1112131415161718;

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2) return;
        byte selector = input[0];
        var body = input[2..];
        var datagram = new byte[V1Constants.HeaderLength + body.Length];
        Header(selector, (V1PayloadType)input[1], (uint)datagram.Length).Write(datagram);
        body.CopyTo(datagram.AsSpan(V1Constants.HeaderLength));
        if (IsakmpCodec.TryDecode(datagram, out var message) != ParseStatus.Ok) return;
        if (message is null) throw new InvalidOperationException("TryDecode returned Ok without a message");

        using var protector = Protector(selector);
        if (protector.TryOpen(message, out var plaintext, out var nextIv) != ParseStatus.Ok) return;
        if (plaintext.Length != message.EncryptedBody.Length) throw new InvalidOperationException("plaintext and ciphertext differ in length");
        if (nextIv.Length != protector.BlockSize) throw new InvalidOperationException($"next IV of {nextIv.Length} octets");
        IsakmpCodec.TryDecodeChain(message.Header.NextPayload, plaintext, allowPadding: true, []);

        if (protector.TryOpen(message, out var again, out _) != ParseStatus.Ok || !again.AsSpan().SequenceEqual(plaintext))
        {
            throw new InvalidOperationException("opening a message moved the IV before any commit");
        }
    }

    /// <summary>The protector the target opens with (fixed key and phase 1 IV per cipher), phase 1 completed for quick mode.</summary>
    public static V1MessageProtector Protector(byte selector)
    {
        var prf = V1KeyDerivation.PrfOf(Phase1Hash.Sha2_256);
        bool des = (selector & 1) != 0;
        var protector = V1MessageProtector.Create(des ? Phase1Encryption.TripleDesCbc : Phase1Encryption.AesCbc,
            Pattern(des ? 24 : 32, 0x31), prf, Pattern(des ? 8 : 16, 0x71));
        if ((selector & 2) != 0) protector.CompletePhase1();
        return protector;
    }

    public static IsakmpHeader Header(byte selector, V1PayloadType next, uint length) => (selector & 2) == 0
        ? new(CookieI, CookieR, next, 1, 0, V1ExchangeType.IdentityProtection, V1Flags.Encryption, 0, length)
        : new(CookieI, CookieR, next, 1, 0, V1ExchangeType.QuickMode, V1Flags.Encryption, QuickMessageId, length);

    /// <summary>Seeds: main mode 5 (ID, HASH, INITIAL-CONTACT) and a quick mode offer with PFS, under both ciphers.</summary>
    public static IEnumerable<(string Name, byte[] Data)> Seeds()
    {
        List<V1Payload> main =
        [
            new V1IdPayload(V1IdType.Fqdn, "initiator.example"u8.ToArray()),
            new V1DataPayload(V1PayloadType.Hash, Pattern(32, 0x11)),
            new V1NotificationPayload(V1NotifyType.InitialContact, V1ProtocolId.Isakmp, Pattern(16, 0x21)),
        ];
        var sa = new V1SaPayload([
            new V1Proposal(1, V1ProtocolId.Esp, [0xc0, 0, 0, 1], [
                new V1Transform(1, (byte)EspTransformId.AesCbc, [
                    DataAttribute.OfBasic((ushort)Phase2AttributeType.KeyLength, 128),
                    DataAttribute.OfBasic((ushort)Phase2AttributeType.EncapsulationMode, (ushort)EncapsulationMode.UdpTunnel),
                ]),
            ]),
        ]);
        List<V1Payload> quick =
        [
            new V1DataPayload(V1PayloadType.Hash, Pattern(32, 0x41)), sa,
            new V1DataPayload(V1PayloadType.Nonce, Pattern(32, 0x51)), new V1DataPayload(V1PayloadType.KeyExchange, Pattern(256, 0x61)),
            new V1IdPayload(V1IdType.Ipv4Subnet, [10, 1, 0, 0, 255, 255, 0, 0]), new V1IdPayload(V1IdType.Ipv4Subnet, [10, 2, 0, 0, 255, 255, 0, 0]),
        ];
        foreach (byte selector in new byte[] { 0, 1, 2, 3 })
        {
            string cipher = (selector & 1) == 0 ? "aes" : "3des";
            var (name, payloads) = (selector & 2) == 0 ? ("main-mode-5", main) : ("quick-mode-1", quick);
            using var sealer = Protector(selector);
            var datagram = sealer.Seal(Header(selector, V1PayloadType.None, 0), payloads);
            yield return ($"{cipher}-{name}", [selector, (byte)payloads[0].Type, .. datagram.AsSpan(V1Constants.HeaderLength)]);
        }
    }

    private static byte[] Pattern(int length, byte seed)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)(seed + i);
        return bytes;
    }
}

using System.Buffers.Binary;
using System.Text;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Crypto.V1;

/// <summary>
/// One IKEv1 main mode (PSK) and quick mode (PFS) exchange between two stock strongSwan 5.9.8 charons, recorded by
/// scripts/record-ikev1-exchange.sh (Fixtures/strongswan-ikev1-psk-main-quick.txt: the nine ISAKMP messages as captured
/// and the keys charon logged at level 4). charon is the witness for the whole composition: our codec parses its
/// messages, our key derivation reproduces every value it logged from the messages and the PSK alone (and the DH
/// secrets, which come from a primitive), and our protector decrypts its encrypted messages with the keys and IVs we
/// derive, so their HASH payloads match what we compute over what we parsed.
/// </summary>
public class StrongSwanRecordingTests
{
    private static readonly Recording R = Recording.Load();
    private static readonly Prf Sha256 = V1KeyDerivation.PrfOf(Phase1Hash.Sha2_256);

    [Fact]
    public void Main_mode_cleartext_messages_parse_and_re_encode_to_the_captured_octets()
    {
        foreach (var name in new[] { "mm1", "mm2", "mm3", "mm4" })
        {
            var datagram = R.Message(name);
            Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(datagram, out var message));
            Assert.Equal(V1ExchangeType.IdentityProtection, message!.Header.Exchange);
            Assert.Equal(datagram, IsakmpCodec.Encode(message.Header, message.Payloads));
        }

        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(R.Message("mm1"), out var first));
        var transform = Assert.Single(Assert.Single(first!.Find<V1SaPayload>()!.Proposals).Transforms);
        Assert.NotEmpty(transform.Attributes);
    }

    [Fact]
    public void Phase_one_keys_and_iv_are_the_ones_charon_logged()
    {
        var skeyid = V1KeyDerivation.SkeyidPsk(Sha256, R["psk"], R.Ni, R.Nr);
        Assert.Equal(R["skeyid"], skeyid);
        var (d, a, e) = V1KeyDerivation.DeriveSkeyids(Sha256, skeyid, R["gxy"], R.CkyI, R.CkyR);
        Assert.Equal(R["skeyid_d"], d);
        Assert.Equal(R["skeyid_a"], a);
        Assert.Equal(R["skeyid_e"], e);
        Assert.Equal(R["ka"], V1KeyDerivation.EncryptionKey(Sha256, e, 16));
        Assert.Equal(R["phase1_iv"], V1KeyDerivation.Phase1Iv(Sha256, R.Gxi, R.Gxr, 16));

        // The witness can fail: another PSK, or the nonces of the other side, give another SKEYID.
        Assert.NotEqual(R["skeyid"], V1KeyDerivation.SkeyidPsk(Sha256, Encoding.ASCII.GetBytes("another-psk"), R.Ni, R.Nr));
        Assert.NotEqual(R["skeyid"], V1KeyDerivation.SkeyidPsk(Sha256, R["psk"], R.Nr, R.Ni));
    }

    [Fact]
    public void Main_mode_five_and_six_decrypt_and_carry_the_hashes_of_the_recorded_identities()
    {
        using var protector = Protector();
        var m5 = Open(protector, "mm5");
        var idi = Assert.IsType<V1IdPayload>(m5.Payloads[0]);
        Assert.Equal(V1IdType.Fqdn, idi.IdType);
        Assert.Equal("initiator.v1witness.example", Encoding.ASCII.GetString(idi.Data));
        var hashI = V1KeyDerivation.HashI(Sha256, R["skeyid"], R.Gxi, R.Gxr, R.CkyI, R.CkyR, R.SaiBody, Raw.Body(m5.Plain, m5.First, 0));
        Assert.Equal(R["hash_i"], hashI);
        Assert.Equal(hashI, Data(m5.Payloads, V1PayloadType.Hash));
        var contact = Assert.IsType<V1NotificationPayload>(m5.Payloads[2]);
        Assert.Equal(V1NotifyType.InitialContact, contact.NotifyType);

        var m6 = Open(protector, "mm6");
        var idr = Assert.IsType<V1IdPayload>(m6.Payloads[0]);
        Assert.Equal("responder.v1witness.example", Encoding.ASCII.GetString(idr.Data));
        var hashR = V1KeyDerivation.HashR(Sha256, R["skeyid"], R.Gxi, R.Gxr, R.CkyI, R.CkyR, R.SaiBody, Raw.Body(m6.Plain, m6.First, 0));
        Assert.Equal(R["hash_r"], hashR);
        Assert.Equal(hashR, Data(m6.Payloads, V1PayloadType.Hash));
        Assert.NotEqual(hashR, V1KeyDerivation.HashR(Sha256, R["skeyid"], R.Gxi, R.Gxr, R.CkyI, R.CkyR, R.SaiBody, Raw.Body(m5.Plain, m5.First, 0)));
    }

    [Fact]
    public void Quick_mode_decrypts_and_its_hashes_and_keymat_with_pfs_are_the_ones_charon_logged()
    {
        using var protector = Protector();
        Open(protector, "mm5");
        Open(protector, "mm6");
        protector.CompletePhase1();

        var q1 = Open(protector, "qm1");
        var q2 = Open(protector, "qm2");
        var q3 = Open(protector, "qm3");
        uint mid = q1.Header.MessageId;
        Assert.NotEqual(0u, mid);
        Assert.Equal(mid, q3.Header.MessageId);

        byte[] a = R["skeyid_a"];
        byte[] ni = Data(q1.Payloads, V1PayloadType.Nonce), nr = Data(q2.Payloads, V1PayloadType.Nonce);
        var hash1 = V1KeyDerivation.QuickHash1(Sha256, a, mid, Raw.AfterFirst(q1.Plain));
        var hash2 = V1KeyDerivation.QuickHash2(Sha256, a, mid, ni, Raw.AfterFirst(q2.Plain));
        var hash3 = V1KeyDerivation.QuickHash3(Sha256, a, mid, ni, nr);
        Assert.Equal(R["qm_hash1"], hash1);
        Assert.Equal(R["qm_hash2"], hash2);
        Assert.Equal(R["qm_hash3"], hash3);
        Assert.Equal(hash1, Data(q1.Payloads, V1PayloadType.Hash));
        Assert.Equal(hash2, Data(q2.Payloads, V1PayloadType.Hash));
        Assert.Equal(hash3, Data(q3.Payloads, V1PayloadType.Hash));
        Assert.Equal(Raw.AfterFirst(q1.Plain), IsakmpCodec.EncodeChain(q1.Payloads.Skip(1).ToList()));

        // The traffic selectors charon proposed, as our ID parser reads them: IDci, IDcr after KE.
        var ids = q1.Payloads.OfType<V1IdPayload>().ToList();
        Assert.Equal(2, ids.Count);
        Assert.All(ids, id => Assert.Equal(V1IdType.Ipv4Subnet, id.IdType));
        Assert.Equal([10, 210, 1, 0, 255, 255, 255, 0], ids[0].Data);
        Assert.Equal([10, 210, 2, 0, 255, 255, 255, 0], ids[1].Data);

        // KEYMAT with PFS, 16 octets of AES-CBC-128 then 32 of HMAC-SHA2-256 per direction; each direction is keyed with
        // the SPI its receiver chose (initiator->responder: the responder's SPI from message 2).
        byte[] spiI = Assert.Single(q1.Payloads.OfType<V1SaPayload>().Single().Proposals).Spi;
        byte[] spiR = Assert.Single(q2.Payloads.OfType<V1SaPayload>().Single().Proposals).Spi;
        var outbound = V1KeyDerivation.Keymat(Sha256, R["skeyid_d"], R["qm_gxy"], V1ProtocolId.Esp, spiR, ni, nr, 48);
        var inbound = V1KeyDerivation.Keymat(Sha256, R["skeyid_d"], R["qm_gxy"], V1ProtocolId.Esp, spiI, ni, nr, 48);
        Assert.Equal(R["esp_encr_i"], outbound[..16]);
        Assert.Equal(R["esp_integ_i"], outbound[16..]);
        Assert.Equal(R["esp_encr_r"], inbound[..16]);
        Assert.Equal(R["esp_integ_r"], inbound[16..]);
        Assert.NotEqual(R["esp_encr_i"], V1KeyDerivation.Keymat(Sha256, R["skeyid_d"], [], V1ProtocolId.Esp, spiR, ni, nr, 16));
    }

    [Fact]
    public void A_changed_ciphertext_block_yields_a_hash_that_does_not_verify_and_moves_no_iv()
    {
        using var protector = Protector();
        var forged = R.Message("mm5");
        forged[V1Constants.HeaderLength + 20] ^= 0x01;
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(forged, out var message));
        Assert.Equal(ParseStatus.Ok, protector.TryOpen(message!, out var plain, out _));
        var payloads = new List<V1Payload>();
        bool verified = IsakmpCodec.TryDecodeChain(message!.Header.NextPayload, plain, allowPadding: true, payloads) == ParseStatus.Ok
            && payloads.Count > 1 && payloads[1] is V1DataPayload { Type: V1PayloadType.Hash } carried
            && carried.Data.AsSpan().SequenceEqual(V1KeyDerivation.HashI(Sha256, R["skeyid"], R.Gxi, R.Gxr, R.CkyI, R.CkyR,
                R.SaiBody, Raw.Body(plain, message.Header.NextPayload, 0)));
        Assert.False(verified);

        // Nothing was committed: the genuine message 5 still opens with the phase 1 IV.
        var m5 = Open(protector, "mm5");
        Assert.Equal(R["hash_i"], Data(m5.Payloads, V1PayloadType.Hash));
    }

    private static V1MessageProtector Protector() =>
        V1MessageProtector.Create(Phase1Encryption.AesCbc, R["ka"], Sha256, R["phase1_iv"]);

    private sealed record Opened(IsakmpHeader Header, V1PayloadType First, byte[] Plain, List<V1Payload> Payloads);

    /// <summary>Decrypts and parses a recorded message and commits its IV (the recorded HASHes are checked by the tests).</summary>
    private static Opened Open(V1MessageProtector protector, string name)
    {
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(R.Message(name), out var message));
        Assert.True(message!.Header.Encrypted);
        Assert.Equal(ParseStatus.Ok, protector.TryOpen(message, out var plain, out var nextIv));
        var payloads = new List<V1Payload>();
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecodeChain(message.Header.NextPayload, plain, allowPadding: true, payloads));
        protector.Commit(message.Header.MessageId, nextIv);
        return new Opened(message.Header, message.Header.NextPayload, plain, payloads);
    }

    private static byte[] Data(IEnumerable<V1Payload> payloads, V1PayloadType type) =>
        payloads.OfType<V1DataPayload>().Single(p => p.Type == type).Data;

    /// <summary>Raw octets of a chain as received, walked apart from the codec (generic header: next, reserved, length).</summary>
    private static class Raw
    {
        /// <summary>The body of the <paramref name="index"/>th payload of a chain.</summary>
        public static byte[] Body(byte[] chain, V1PayloadType first, int index)
        {
            int at = 0;
            for (int k = 0; k < index; k++) at += BinaryPrimitives.ReadUInt16BigEndian(chain.AsSpan(at + 2));
            int length = BinaryPrimitives.ReadUInt16BigEndian(chain.AsSpan(at + 2));
            return chain[(at + 4)..(at + length)];
        }

        /// <summary>Every payload after the first, generic headers included, up to the end of the last (no padding).</summary>
        public static byte[] AfterFirst(byte[] chain)
        {
            int start = BinaryPrimitives.ReadUInt16BigEndian(chain.AsSpan(2)), at = 0;
            while (true)
            {
                byte next = chain[at];
                at += BinaryPrimitives.ReadUInt16BigEndian(chain.AsSpan(at + 2));
                if (next == 0) return chain[start..at];
            }
        }

        /// <summary>The body of the first payload of <paramref name="type"/> in a cleartext message.</summary>
        public static byte[] Find(byte[] datagram, V1PayloadType type)
        {
            var next = (V1PayloadType)datagram[16];
            int at = V1Constants.HeaderLength;
            while (next != V1PayloadType.None)
            {
                int length = BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(at + 2));
                if (next == type) return datagram[(at + 4)..(at + length)];
                next = (V1PayloadType)datagram[at];
                at += length;
            }

            throw new InvalidOperationException($"no {type} payload");
        }
    }

    private sealed class Recording
    {
        private const string File = "Ike/Crypto/V1/Fixtures/strongswan-ikev1-psk-main-quick.txt";
        private readonly Dictionary<string, string> _values;

        private Recording(Dictionary<string, string> values) => _values = values;

        public static Recording Load()
        {
            var path = Path.Combine(AppContext.BaseDirectory, File);
            var values = new Dictionary<string, string>();
            foreach (var line in System.IO.File.ReadAllLines(path))
            {
                if (line.Length == 0 || line[0] == '#') continue;
                int eq = line.IndexOf(" = ", StringComparison.Ordinal);
                values.Add(line[..eq], line[(eq + 3)..]);
            }

            return new Recording(values);
        }

        public byte[] this[string key] => Convert.FromHexString(_values[key]);

        /// <summary>A captured message (the line's second field; the first is its sender).</summary>
        public byte[] Message(string name) => Convert.FromHexString(_values[name].Split(' ')[1]);

        public byte[] CkyI => Message("mm1")[..8];
        public byte[] CkyR => Message("mm2")[8..16];
        public byte[] SaiBody => Raw.Find(Message("mm1"), V1PayloadType.SecurityAssociation);
        public byte[] Gxi => Raw.Find(Message("mm3"), V1PayloadType.KeyExchange);
        public byte[] Gxr => Raw.Find(Message("mm4"), V1PayloadType.KeyExchange);
        public byte[] Ni => Raw.Find(Message("mm3"), V1PayloadType.Nonce);
        public byte[] Nr => Raw.Find(Message("mm4"), V1PayloadType.Nonce);
    }
}

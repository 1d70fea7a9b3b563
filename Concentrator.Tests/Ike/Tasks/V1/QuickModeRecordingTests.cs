using System.Buffers.Binary;
using System.Net;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>
/// Quick mode against the exchange two stock charons had (v1witness's recording, Ike/Crypto/V1/Fixtures: main mode PSK
/// then quick mode with PFS, aes128-sha256-modp2048, encap = yes): our responder verifies charon's HASH(1) and accepts its
/// offer and IDs, and our KEYMAT split gives exactly the ESP keys charon logged at level 4 for both SPIs.
/// </summary>
public class QuickModeRecordingTests
{
    private const string File = "Ike/Crypto/V1/Fixtures/strongswan-ikev1-psk-main-quick.txt";
    private static readonly Dictionary<string, string> R = Load();
    private static readonly Concentrator.Ike.Crypto.Prf Sha256 = V1KeyDerivation.PrfOf(Phase1Hash.Sha2_256);

    private static Dictionary<string, string> Load() => System.IO.File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, File))
        .Where(l => l.Length > 0 && l[0] != '#').ToDictionary(l => l[..l.IndexOf(" = ", StringComparison.Ordinal)], l => l[(l.IndexOf(" = ", StringComparison.Ordinal) + 3)..]);

    private static byte[] H(string key) => Convert.FromHexString(R[key]);
    private static byte[] Msg(string name) => Convert.FromHexString(R[name].Split(' ')[1]);

    /// <summary>The quick mode messages decrypted with the recorded Ka and phase 1 IV, as the SA would (IVs chained through
    /// main mode 5 and 6, then per M-ID): (payloads, the chain after HASH as received, the header).</summary>
    private static List<(IReadOnlyList<V1Payload> Payloads, byte[] AfterHash, IsakmpHeader Header)> QuickModeMessages()
    {
        using var protector = V1MessageProtector.Create(Phase1Encryption.AesCbc, H("ka"), Sha256, H("phase1_iv"));
        var result = new List<(IReadOnlyList<V1Payload>, byte[], IsakmpHeader)>();
        foreach (var name in new[] { "mm5", "mm6", "qm1", "qm2", "qm3" })
        {
            if (name == "qm1") protector.CompletePhase1();
            Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(Msg(name), out var m));
            Assert.Equal(ParseStatus.Ok, protector.TryOpen(m!, out var plain, out var iv));
            protector.Commit(m!.Header.MessageId, iv);
            var payloads = new List<V1Payload>();
            Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecodeChain(m.Header.NextPayload, plain, allowPadding: true, payloads));
            int first = 4 + payloads[0].BodyLength, end = IsakmpCodec.GetChainLength(payloads);
            result.Add((payloads, plain[first..end], m.Header));
        }
        return result.GetRange(2, 3);
    }

    [Fact]
    public void Our_responder_verifies_charons_hash1_and_accepts_its_offer_and_ids()
    {
        var q = QuickModeMessages();
        var child = QuickModeTaskTests.Child("aes128-sha256-modp2048", "10.210.2.0/24", "10.210.1.0/24");
        var ctx = new RecordedContext(child);
        var task = new QuickModeTask(ctx, q[0].Header.MessageId);
        var step = task.ProcessRequest(q[0].Payloads, q[0].AfterHash);
        Assert.Equal(QuickModeOutcome.Send, step.Outcome);
        Assert.Equal(new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.Modp2048, false), task.Result!.Suite);
        Assert.True(task.Result.Terms.Udp);
        Assert.Equal("10.210.1.0", task.Result.Install.RemoteTs[0].StartAddress.ToString());
        var charonSpi = q[0].Payloads.OfType<V1SaPayload>().Single().Proposals[0].Spi;
        Assert.Equal(BinaryPrimitives.ReadUInt32BigEndian(charonSpi), task.Result.Install.OutboundSpi);

        // One octet of the chain changed: the HASH no longer verifies and nothing is kept.
        var altered = q[0].AfterHash.ToArray();
        altered[^1] ^= 1;
        var other = new QuickModeTask(new RecordedContext(child), q[0].Header.MessageId);
        Assert.Equal(QuickModeOutcome.Drop, other.ProcessRequest(q[0].Payloads, altered).Outcome);
        Assert.Null(other.Result);
    }

    [Fact]
    public void Keymat_split_gives_the_esp_keys_charon_logged_for_both_spis()
    {
        var q = QuickModeMessages();
        byte[] ni = q[0].Payloads.OfType<V1DataPayload>().Single(p => p.Type == V1PayloadType.Nonce).Data;
        byte[] nr = q[1].Payloads.OfType<V1DataPayload>().Single(p => p.Type == V1PayloadType.Nonce).Data;
        uint spiI = BinaryPrimitives.ReadUInt32BigEndian(q[0].Payloads.OfType<V1SaPayload>().Single().Proposals[0].Spi);
        uint spiR = BinaryPrimitives.ReadUInt32BigEndian(q[1].Payloads.OfType<V1SaPayload>().Single().Proposals[0].Spi);
        var suite = new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.Modp2048, false);
        using var keys = V1ChildKeys.Derive(Sha256, H("skeyid_d"), suite, H("qm_gxy"), spiI, spiR, ni, nr);
        Assert.Equal(H("esp_encr_i"), keys.EncrInitiator);
        Assert.Equal(H("esp_integ_i"), keys.IntegInitiator);
        Assert.Equal(H("esp_encr_r"), keys.EncrResponder);
        Assert.Equal(H("esp_integ_r"), keys.IntegResponder);
        // The SPIs swapped give other keys: the direction really is chosen by the receiver's SPI.
        using var swapped = V1ChildKeys.Derive(Sha256, H("skeyid_d"), suite, H("qm_gxy"), spiR, spiI, ni, nr);
        Assert.NotEqual(H("esp_encr_i"), swapped.EncrInitiator);
    }

    private sealed class RecordedContext(Concentrator.Ike.Connections.ChildConfig child) : IQuickModeContext
    {
        public Concentrator.Ike.Crypto.Prf Prf => Sha256;
        public byte[] SkeyidA { get; } = H("skeyid_a");
        public byte[] SkeyidD { get; } = H("skeyid_d");
        public IPEndPoint LocalEndpoint { get; } = new(IPAddress.Parse("10.201.0.2"), 4500);
        public IPEndPoint RemoteEndpoint { get; } = new(IPAddress.Parse("10.201.0.1"), 4500);
        public bool NatDetected => true;
        public bool DraftNatT => false;
        public string ConnectionName => "recorded";
        public IReadOnlyCollection<Concentrator.Ike.Connections.ChildConfig> Children => [child];
        public uint AllocateSpi() => 0xc1c2c3c4;
        public void ReleaseSpi(uint spi) { }
        public byte[] NewNonce() => new byte[32];
    }
}

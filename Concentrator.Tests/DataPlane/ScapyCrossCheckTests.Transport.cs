using System.Buffers.Binary;
using System.Net;
using System.Text.Json.Nodes;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

/// <summary>
/// Transport-mode ESP (RFC 4303 §3.1.1) against scapy's <c>SecurityAssociation(ESP, ..., tunnel_header=None)</c>, fixed
/// keys both ways: scapy's transport-mode packets open on our transport SA into the same upper-layer bytes under a
/// rebuilt IPv4 header; ours open in scapy into the same UDP datagram; and with the same sequence number and IV both
/// produce the same bytes (the ESP payload is the datagram alone, next header 17).
/// </summary>
public sealed partial class ScapyCrossCheckTests
{
    private const string Us = "10.10.0.9", Peer = "10.20.0.5"; // Udp4 sends Us -> Peer, InnerSpec Peer -> Us

    private static InMemoryDataPlane TransportPlane(EspSuite suite, Keys k)
    {
        var plane = new InMemoryDataPlane();
        var host = (string a) => new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Parse(a), IPAddress.Parse(a));
        plane.AddSa(Install(suite, OurInboundSpi, OurOutboundSpi, (byte[])k.InEnc.Clone(), (byte[])k.InInteg.Clone(),
            (byte[])k.OutEnc.Clone(), (byte[])k.OutInteg.Clone()) with { LocalTs = [host(Us)], RemoteTs = [host(Peer)], Mode = IpsecMode.Transport });
        return plane;
    }

    /// <summary>AES-GCM-256, ChaCha20-Poly1305, AES-CBC-128 + SHA-256, AES-CBC-256 + SHA-512.</summary>
    public static TheoryData<int> TransportSuites() => new() { 2, 3, 4, 6 };

    [Theory]
    [MemberData(nameof(TransportSuites))]
    public async Task Transport_mode_scapy_encrypts_Concentrator_opens(int suiteIndex)
    {
        EspSuite suite = AllSuites[suiteIndex];
        var scapy = await ScapyRunner.GetAsync(output);
        if (scapy is null) return;
        var keys = FixedKeys(suite);
        using var plane = TransportPlane(suite, keys);
        int[] payloads = [0, 1, 2, 3, 13, 100, 1400];
        var jobs = new JsonArray();
        for (int i = 0; i < payloads.Length; i++)
        {
            var job = SaJob("encrypt", suite, OurInboundSpi, keys.InEnc, keys.InInteg, 0);
            job["seq"] = 1 + i;
            job["transport"] = true;
            job["inner"] = InnerSpec(4, payloads[i], i);
            jobs.Add(job);
        }
        var results = await scapy.RunAsync(jobs);
        for (int i = 0; i < payloads.Length; i++)
        {
            Assert.True(results[i].Ok, results[i].Error);
            byte[] esp = results[i].Bytes("esp");
            byte[] sent = results[i].Bytes("inner");
            Assert.Equal(EspStatus.Ok, plane.Decapsulate(esp, out var range));
            var got = esp.AsSpan(range);
            Assert.Equal(sent.AsSpan(20).ToArray(), got[20..].ToArray()); // the UDP datagram, checksum included
            Assert.Equal(sent.Length, BinaryPrimitives.ReadUInt16BigEndian(got[2..]));
            Assert.Equal(17, got[9]);
            Assert.Equal(sent.AsSpan(12, 8).ToArray(), got.Slice(12, 8).ToArray()); // peer -> us
            Assert.Equal(0, Fold(got[..20]));
        }
    }

    [Theory]
    [MemberData(nameof(TransportSuites))]
    public async Task Transport_mode_Concentrator_encrypts_scapy_opens_and_matches_byte_for_byte(int suiteIndex)
    {
        EspSuite suite = AllSuites[suiteIndex];
        var scapy = await ScapyRunner.GetAsync(output);
        if (scapy is null) return;
        var keys = FixedKeys(suite);
        using var plane = TransportPlane(suite, keys);
        Assert.True(plane.TryGetSa(OurInboundSpi, out EspSa sa));
        bool cbc = suite.Encryption is EncrAlgorithm.AesCbc or EncrAlgorithm.TripleDes;
        byte[] cbcIv = Hex("00112233445566778899aabbccddeeff")[..sa.OutboundGeometry.IvLength];
        if (cbc) sa.FixedIvForTest = cbcIv;

        int[] payloads = [0, 1, 2, 3, 13, 100, 1400];
        var jobs = new JsonArray();
        var ours = new List<(byte[] Inner, byte[] Esp)>();
        var buffer = new byte[2048];
        for (int i = 0; i < payloads.Length; i++)
        {
            byte[] inner = Udp4(payloads[i], i);
            Assert.Equal(EspStatus.Ok, plane.Encapsulate(OurInboundSpi, inner, buffer, out int written));
            byte[] esp = buffer[..written];
            ours.Add((inner, esp));
            var decrypt = SaJob("decrypt", suite, OurOutboundSpi, keys.OutEnc, keys.OutInteg, 0);
            decrypt["esp"] = ToHex(esp);
            decrypt["transport"] = true;
            decrypt["outer_src"] = Us;
            decrypt["outer_dst"] = Peer;
            jobs.Add(decrypt);
            var encrypt = SaJob("encrypt", suite, OurOutboundSpi, keys.OutEnc, keys.OutInteg, 0);
            encrypt["seq"] = BinaryPrimitives.ReadUInt32BigEndian(esp.AsSpan(4));
            encrypt["iv"] = cbc ? ToHex(cbcIv) : ToHex(esp.AsSpan(8, 8));
            encrypt["transport"] = true;
            encrypt["inner_raw"] = ToHex(inner);
            jobs.Add(encrypt);
        }
        var results = await scapy.RunAsync(jobs);
        for (int i = 0; i < ours.Count; i++)
        {
            var (inner, esp) = ours[i];
            var opened = results[2 * i];
            Assert.True(opened.Ok, opened.Error);
            byte[] plain = opened.Bytes("inner");
            Assert.Equal(17, plain[9]); // scapy put our next header into the packet's protocol
            Assert.Equal(inner.AsSpan(20).ToArray(), plain.AsSpan(20).ToArray());
            var sealedByScapy = results[2 * i + 1];
            Assert.True(sealedByScapy.Ok, sealedByScapy.Error);
            Assert.Equal(ToHex(esp), ToHex(sealedByScapy.Bytes("esp")));
        }
    }

    private static ushort Fold(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}

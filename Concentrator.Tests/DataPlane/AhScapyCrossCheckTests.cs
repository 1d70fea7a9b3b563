using System.Text.Json.Nodes;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Xunit.Abstractions;
using static Concentrator.Tests.DataPlane.AhTestSupport;
using static Concentrator.Tests.DataPlane.EspTestSupport;
using ScapyRunner = Concentrator.Tests.DataPlane.ScapyCrossCheckTests.ScapyRunner;

namespace Concentrator.Tests.DataPlane;

/// <summary>
/// AH (RFC 4302) checked against an independent implementation: scapy's <c>SecurityAssociation(AH, ...)</c>, driven by
/// DataPlane/Scapy/ah_crosscheck.py. scapy protects and we verify; we protect and scapy verifies; tunnel mode over IPv4
/// and IPv6, transport mode over IPv4, ESN off and on (the high half nonzero on both sides); one flipped ICV bit fails
/// on both sides. Without scapy the tests fail under CI=true and otherwise report and return.
/// </summary>
public sealed class AhScapyCrossCheckTests(ITestOutputHelper output)
{
    private const ulong EsnHigh = 7;

    private static string ScapyName(IntegAlgorithm alg) => alg switch
    {
        IntegAlgorithm.HmacSha2_256_128 => "SHA2-256-128",
        IntegAlgorithm.HmacSha2_384_192 => "SHA2-384-192",
        IntegAlgorithm.HmacSha2_512_256 => "SHA2-512-256",
        _ => throw new NotSupportedException(alg.ToString()),
    };

    public static TheoryData<int, int, bool> Cases()
    {
        var data = new TheoryData<int, int, bool>();
        for (int alg = 0; alg < AhAlgorithms.Length; alg++)
            foreach (int outer in new[] { 4, 6, 0 }) // 0: transport mode over IPv4
                foreach (bool esn in new[] { false, true })
                    data.Add(alg, outer, esn);
        return data;
    }

    private static AhPair NewPair(IntegAlgorithm alg, int outer, bool esn) =>
        new(alg, esn, ipv6Outer: outer == 6, mode: outer == 0 ? IpsecMode.Transport : IpsecMode.Tunnel);

    private static (string Src, string Dst) Outer(int outer, bool fromA) => outer switch
    {
        6 => fromA ? ("2001:db8::1", "2001:db8::2") : ("2001:db8::2", "2001:db8::1"),
        4 => fromA ? ("192.0.2.1", "198.51.100.7") : ("198.51.100.7", "192.0.2.1"),
        _ => fromA ? ("10.0.0.1", "10.0.0.2") : ("10.0.0.2", "10.0.0.1"),
    };

    private static JsonObject Job(string op, IntegAlgorithm alg, byte[] key, uint spi, int outer, bool esn, bool fromA)
    {
        var (src, dst) = Outer(outer, fromA);
        return new JsonObject
        {
            ["op"] = op,
            ["auth_algo"] = ScapyName(alg),
            ["auth_key"] = ToHex(key),
            ["spi"] = spi,
            ["esn_en"] = esn,
            ["esn"] = esn ? EsnHigh : 0,
            ["tunnel"] = outer == 0 ? null : outer,
            ["outer_src"] = src,
            ["outer_dst"] = dst,
        };
    }

    private static byte[][] Inners(int outer) => outer == 0
        ? [Ipv4(20), Ipv4(77), Ipv4(1300)]
        : [Ipv4(20), Ipv4(77), Ipv4(1300), Ipv6(40), Ipv6(401)];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Scapy_protects_Concentrator_verifies(int algIndex, int outer, bool esn)
    {
        var scapy = await ScapyRunner.GetAsync(output);
        if (scapy is null) return;
        var alg = AhAlgorithms[algIndex];
        using var pair = NewPair(alg, outer, esn);
        ulong start = esn ? (EsnHigh << 32) + 1000 : 1000;
        pair.SaB.Window.Restore(start);
        var aToB = Key(KeyLength(alg), 0x21); // AhPair's key of A -> B
        var inners = Inners(outer);
        var jobs = new JsonArray();
        for (int i = 0; i < inners.Length; i++)
        {
            var job = Job("protect", alg, aToB, AhPair.SpiB, outer, esn, fromA: true);
            job["inner"] = ToHex(inners[i]);
            job["seq"] = (uint)(start + 1 + (ulong)i);
            jobs.Add(job);
        }
        var results = await scapy.RunAsync(jobs, ScapyRunner.Script("ah_crosscheck.py"));
        for (int i = 0; i < inners.Length; i++)
        {
            Assert.True(results[i].Ok, results[i].Error);
            var packet = results[i].Bytes("packet");
            var forged = (byte[])packet.Clone();
            forged[(packet[0] >> 4 == 6 ? 40 : 20) + AhHeader.FixedLength] ^= 0x01;
            Assert.Equal(EspStatus.AhIcvFailed, pair.Receive(forged).Status);
            var (status, inner) = pair.Receive(packet);
            Assert.Equal(EspStatus.Ok, status);
            if (outer == 0)
            {
                Assert.Equal(inners[i][20..], inner[20..]);
                Assert.Equal(inners[i][9..10], inner[9..10]);
                Assert.Equal(inners[i][12..20], inner[12..20]);
            }
            else
            {
                Assert.Equal(inners[i], inner);
            }
            Assert.Equal(EspStatus.AhReplay, pair.Receive(packet).Status);
        }
        Assert.Equal(start + (ulong)inners.Length, pair.SaB.Window.Top);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Concentrator_protects_scapy_verifies(int algIndex, int outer, bool esn)
    {
        var scapy = await ScapyRunner.GetAsync(output);
        if (scapy is null) return;
        var alg = AhAlgorithms[algIndex];
        using var pair = NewPair(alg, outer, esn);
        if (esn) pair.SaA.SetLastOutboundSequenceForTest((EsnHigh << 32) + 5000);
        var aToB = Key(KeyLength(alg), 0x21);
        var inners = Inners(outer);
        var jobs = new JsonArray();
        var packets = inners.Select(p => pair.Send(p)).ToList();
        foreach (var packet in packets)
        {
            var job = Job("verify", alg, aToB, AhPair.SpiB, outer, esn, fromA: true);
            job["packet"] = ToHex(packet);
            jobs.Add(job);
            var forged = (byte[])packet.Clone();
            forged[^1] ^= 0x40;
            var bad = Job("verify", alg, aToB, AhPair.SpiB, outer, esn, fromA: true);
            bad["packet"] = ToHex(forged);
            jobs.Add(bad);
        }
        var results = await scapy.RunAsync(jobs, ScapyRunner.Script("ah_crosscheck.py"));
        for (int i = 0; i < inners.Length; i++)
        {
            var good = results[2 * i];
            Assert.True(good.Ok, good.Error);
            var inner = good.Bytes("inner");
            if (outer == 0) Assert.Equal(inners[i][20..], inner[20..]);
            else Assert.Equal(inners[i], inner);
            Assert.False(results[2 * i + 1].Ok);
            Assert.True(results[2 * i + 1].IntegrityError, results[2 * i + 1].Error);
        }
    }
}

using System.Net;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Simulation;

namespace Concentrator.Benchmarks;

/// <summary>
/// AES-GCM on intel-ipsec-mb beside OpenSSL EVP (issue 17): the same ESP round trip and the same raw seal + open, each
/// on planes whose SAs were installed with one library, the four loops interleaved within every repetition.
/// </summary>
public static partial class EspBenchmark
{
    private static void AddIpsecMbTable(Report report, List<Cipher> ciphers, int[] sizes, int repeats, TimeSpan measure, TimeSpan warmup, BenchOptions o)
    {
        if (EspCrypto.IpsecMbIfUsable is not { } imb)
        {
            report.Notes.Add($"intel-ipsec-mb not measured: {EspCrypto.IpsecMbSelection().Note}");
            return;
        }
        report.Conditions.Add($"intel-ipsec-mb {imb.Version}, path `{imb.Architecture}` (CPU: {Concentrator.DataPlane.Native.LibIpsecMb.DescribeFeatures(imb.Features)}): " +
                              "`IpsecMbAeadEspCipher`, the AES-GCM one-shot `aes_gcm_enc/dec_<bits>` per packet on a gcm_key_data expanded at install; " +
                              "inbound the computed tag is compared in constant time. Table `intel-ipsec-mb vs OpenSSL`: ESP round trips on two " +
                              "plane pairs (SAs installed with OpenSSL, with ipsec-mb) and raw seal + open on one transform of each, the four loops " +
                              "in turn in every repetition; each ratio is the median of per-repetition ratios (ipsec-mb / OpenSSL).");
        var table = report.AddTable("intel-ipsec-mb vs OpenSSL", "cipher", "inner bytes", "ESP OpenSSL packets/s", "ESP ipsec-mb packets/s",
            "ESP OpenSSL Gbit/s", "ESP ipsec-mb Gbit/s", "ESP ratio", "raw OpenSSL packets/s", "raw ipsec-mb packets/s", "raw ratio", "ESP ipsec-mb alloc B/packet");
        foreach (var c in ciphers)
        {
            if (c.Suite.Encryption != Ipsec.EncrAlgorithm.AesGcm16) continue;
            foreach (int size in sizes)
            {
                if (!o.Includes($"{c.Name}/{size}") && !o.Includes(c.Name)) continue;
                var r = MeasureBackends(c, size, repeats, measure, warmup);
                Console.WriteLine($"esp {c.Name,-18} {size,5} B: ESP OpenSSL {Stats.N(r.EspEvp),12} ipsec-mb {Stats.N(r.EspImb),12} ratio {Stats.F(r.EspRatio)} | " +
                                  $"raw OpenSSL {Stats.N(r.RawEvp),12} ipsec-mb {Stats.N(r.RawImb),12} ratio {Stats.F(r.RawRatio)}");
                if (r.Failures > 0)
                {
                    report.Failed = true;
                    report.Notes.Add($"{c.Name} {size} B (ipsec-mb vs OpenSSL): {r.Failures} packets failed the round trip.");
                }
                table.Add(c.Name, size.ToString(), Stats.N(r.EspEvp), Stats.N(r.EspImb), Stats.F(r.EspEvp * size * 8 / 1e9),
                    Stats.F(r.EspImb * size * 8 / 1e9), Stats.F(r.EspRatio), Stats.N(r.RawEvp), Stats.N(r.RawImb), Stats.F(r.RawRatio),
                    Stats.F(r.AllocPerPacket, 3));
            }
        }
    }

    private sealed record BackendResult(double EspEvp, double EspImb, double EspRatio, double RawEvp, double RawImb, double RawRatio, double AllocPerPacket, long Failures);

    private static BackendResult MeasureBackends(Cipher c, int size, int repeats, TimeSpan measure, TimeSpan warmup)
    {
        int keyMaterial = c.KeyBytes + 4;
        byte[] aToB = Key(keyMaterial, 0x11), bToA = Key(keyMaterial, 0x33);
        (InMemoryDataPlane A, InMemoryDataPlane B) Planes(EspCryptoLibrary library)
        {
            EspCrypto.t_gcmOverride = library;
            try
            {
                var a = new InMemoryDataPlane();
                var b = new InMemoryDataPlane();
                a.AddSa(Install(c.Suite, SpiA, SpiB, (byte[])bToA.Clone(), (byte[])aToB.Clone()));
                b.AddSa(Install(c.Suite, SpiB, SpiA, (byte[])aToB.Clone(), (byte[])bToA.Clone()));
                return (a, b);
            }
            finally
            {
                EspCrypto.t_gcmOverride = null;
            }
        }
        var (evpA, evpB) = Planes(EspCryptoLibrary.OpenSslEvp);
        var (imbA, imbB) = Planes(EspCryptoLibrary.IpsecMb);
        using var planes = new PlaneSet(evpA, evpB, imbA, imbB);
        using var evp = (AeadEspCipher)EspCipher.Create(c.Suite, Key(keyMaterial, 0x55), [], EspCryptoLibrary.OpenSslEvp);
        using var imb = (AeadEspCipher)EspCipher.Create(c.Suite, Key(keyMaterial, 0x55), [], EspCryptoLibrary.IpsecMb);

        byte[] inner = TrafficPump.BuildPacket(IPAddress.Parse("10.99.10.1"), IPAddress.Parse("10.99.2.2"), size);
        byte[] wire = new byte[size + 256];
        byte[] body = inner.AsSpan(0, size).ToArray();
        long failures = 0;
        EspLoop(evpA, evpB, inner, wire, warmup, ref failures);
        EspLoop(imbA, imbB, inner, wire, warmup, ref failures);
        EvpLoop(evp, body, warmup, ref failures);
        EvpLoop(imb, body, warmup, ref failures);

        var espEvp = new List<double>();
        var espImb = new List<double>();
        var rawEvp = new List<double>();
        var rawImb = new List<double>();
        var espRatios = new List<double>();
        var rawRatios = new List<double>();
        long allocated = 0, imbPackets = 0;
        for (int r = 0; r < repeats; r++)
        {
            var (n, t) = EspLoop(evpA, evpB, inner, wire, measure, ref failures);
            espEvp.Add(n / t);
            long before = GC.GetAllocatedBytesForCurrentThread();
            (n, t) = EspLoop(imbA, imbB, inner, wire, measure, ref failures);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            imbPackets += n;
            espImb.Add(n / t);
            (n, t) = EvpLoop(evp, body, measure, ref failures);
            rawEvp.Add(n / t);
            (n, t) = EvpLoop(imb, body, measure, ref failures);
            rawImb.Add(n / t);
            espRatios.Add(espImb[^1] / espEvp[^1]);
            rawRatios.Add(rawImb[^1] / rawEvp[^1]);
        }
        return new BackendResult(Stats.Median(espEvp), Stats.Median(espImb), Stats.Median(espRatios), Stats.Median(rawEvp), Stats.Median(rawImb),
            Stats.Median(rawRatios), imbPackets == 0 ? double.NaN : (double)allocated / imbPackets, failures);
    }

    private sealed class PlaneSet(params InMemoryDataPlane[] planes) : IDisposable
    {
        public void Dispose()
        {
            foreach (var p in planes) p.Dispose();
        }
    }
}

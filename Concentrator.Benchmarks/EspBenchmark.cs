using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Simulation;

namespace Concentrator.Benchmarks;

/// <summary>
/// ESP per core: one thread encapsulates on plane A and decapsulates (replay check, ICV, trailer) on plane B,
/// back to back through the public <see cref="InMemoryDataPlane"/> API, beside the raw AEAD calls of the same
/// library (OpenSSL EVP: seal + open of the same size on one keyed context) and, for reference, .NET's
/// AesGcm/ChaCha20Poly1305 Encrypt + Decrypt (the same libcrypto behind .NET's API), measured in alternation
/// within the same repetition.
/// </summary>
public static partial class EspBenchmark
{
    private const uint SpiA = 0xbe0c0001; // A's inbound SPI
    private const uint SpiB = 0xbe0c0002; // B's inbound SPI

    private sealed record Cipher(string Name, EspSuite Suite, int KeyBytes, Func<byte[], IRawAead> Raw);

    public static Report Run(BenchOptions o)
    {
        int[] sizes = o.Sizes ?? [64, 512, 1400];
        int repeats = o.Repeats ?? (o.Quick ? 2 : 15);
        var measure = TimeSpan.FromSeconds(o.Quick ? 0.1 : 0.3);
        var warmup = TimeSpan.FromSeconds(o.Quick ? 0.05 : 0.5);

        var ciphers = new List<Cipher>
        {
            new("AES-GCM-128", new(EncrAlgorithm.AesGcm16, 128, IntegAlgorithm.None, DhGroup.None, false), 16, k => new RawAesGcm(k)),
            new("AES-GCM-256", new(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false), 32, k => new RawAesGcm(k)),
        };
        var report = new Report("esp", "ESP encapsulate + decapsulate per core vs raw AEAD");
        if (ChaCha20Poly1305.IsSupported)
            ciphers.Add(new("ChaCha20-Poly1305", new(EncrAlgorithm.ChaCha20Poly1305, 256, IntegAlgorithm.None, DhGroup.None, false), 32, k => new RawChaCha(k)));
        else
            report.Notes.Add("ChaCha20-Poly1305 is not supported by this platform's crypto library: not measured.");

        report.Conditions.Add("One thread (one core): per packet `InMemoryDataPlane.Encapsulate` on plane A (SA lookup, sequence number, " +
                              "padding, AEAD seal in place) then `Decapsulate` on plane B (SA lookup, replay-window check and update, " +
                              "ICV verification, decryption, trailer and next-header checks). Inner packets are IPv4/UDP of the given size, no ESN.");
        report.Conditions.Add($"ESP crypto library of this process: {EspCrypto.Description}. The `Results` table runs every cipher, AES-GCM " +
                              "included, on OpenSSL (`EvpAeadEspCipher`: one EVP_CIPHER_CTX per SA direction keyed " +
                              "at install; per packet nonce, AAD, one in-place update and the tag; inbound verification is the single " +
                              "decryption pass, `EVP_CipherFinal_ex` refusing a bad ICV).");
        report.Conditions.Add("Raw AEAD (`raw AEAD`, the ratio `ESP / raw`): the same library's bare AEAD, seal then open in place of a buffer " +
                              "of the inner size on one keyed OpenSSL EVP context (12-byte nonce, 8-byte AAD, 16-byte tag): the ESP transform's " +
                              "own EVP calls without the ESP framing, SA lookup, sequence numbers or replay window.");
        report.Conditions.Add("Raw .NET (`ESP / raw .NET`): `System.Security.Cryptography.AesGcm` / `ChaCha20Poly1305` `Encrypt` + `Decrypt` " +
                              "of the same size (the same libcrypto behind .NET's API; separate input and output buffers).");
        report.Conditions.Add($"Loop: {warmup.TotalSeconds:0.##} s warm-up, then {repeats} repetitions of {measure.TotalSeconds:0.##} s (wall clock) " +
                              "of ESP, raw AEAD and raw .NET in turn. Rates are packets per CPU-second of the measuring thread " +
                              "(`CLOCK_THREAD_CPUTIME_ID`), i.e. per core, so time the thread spends preempted by other load on the shared " +
                              "machine does not count; medians reported. Each ratio is the median of the per-repetition ratios (adjacent " +
                              "windows). Gbit/s counts inner bytes (one direction, encap+decap each).");
        report.Conditions.Add("Allocated bytes per packet: `GC.GetAllocatedBytesForCurrentThread` over the measured ESP repetitions / packets.");

        var table = report.AddTable("Results", "cipher", "inner bytes", "ESP packets/s", "ESP Gbit/s", "raw AEAD packets/s", "raw AEAD Gbit/s",
            "ESP / raw", "raw .NET packets/s", "ESP / raw .NET", "ESP alloc B/packet");
        // This table is OpenSSL's whatever the process selected for AES-GCM; the ipsec-mb table compares the two.
        EspCrypto.t_gcmOverride = EspCryptoLibrary.OpenSslEvp;
        foreach (var c in ciphers)
        {
            foreach (int size in sizes)
            {
                if (!o.Includes($"{c.Name}/{size}") && !o.Includes(c.Name)) continue;
                var r = Measure(c, size, repeats, measure, warmup);
                Console.WriteLine($"esp {c.Name,-18} {size,5} B: ESP {Stats.N(r.EspPps),12} pkt/s {Stats.F(r.EspGbps),7} Gbit/s | raw {Stats.N(r.RawPps),12} pkt/s | ratio {Stats.F(r.RawRatio)} | .NET {Stats.N(r.NetPps),12} pkt/s | ratio {Stats.F(r.NetRatio)} | {Stats.F(r.AllocPerPacket, 3)} B/pkt");
                if (r.Failures > 0)
                {
                    report.Failed = true;
                    report.Notes.Add($"{c.Name} {size} B: {r.Failures} packets failed the ESP round trip.");
                }
                table.Add(c.Name, size.ToString(), Stats.N(r.EspPps), Stats.F(r.EspGbps), Stats.N(r.RawPps), Stats.F(r.RawGbps),
                    Stats.F(r.RawRatio), Stats.N(r.NetPps), Stats.F(r.NetRatio), Stats.F(r.AllocPerPacket, 3));
            }
        }
        EspCrypto.t_gcmOverride = null;
        AddIpsecMbTable(report, ciphers, sizes, repeats, measure, warmup, o);
        return report;
    }

    private sealed record Result(double EspPps, double EspGbps, double RawPps, double RawGbps, double NetPps, double RawRatio, double NetRatio, double AllocPerPacket, long Failures);

    private static Result Measure(Cipher c, int size, int repeats, TimeSpan measure, TimeSpan warmup)
    {
        using var a = new InMemoryDataPlane();
        using var b = new InMemoryDataPlane();
        int keyMaterial = c.KeyBytes + 4; // key | 4-byte salt (RFC 4106 / RFC 7634)
        byte[] aToB = Key(keyMaterial, 0x11), bToA = Key(keyMaterial, 0x33);
        a.AddSa(Install(c.Suite, SpiA, SpiB, (byte[])bToA.Clone(), (byte[])aToB.Clone()));
        b.AddSa(Install(c.Suite, SpiB, SpiA, (byte[])aToB.Clone(), (byte[])bToA.Clone()));

        byte[] inner = TrafficPump.BuildPacket(IPAddress.Parse("10.99.10.1"), IPAddress.Parse("10.99.2.2"), size);
        byte[] wire = new byte[size + 256];
        using IRawAead net = c.Raw(Key(c.KeyBytes, 0x55));
        using var evp = (AeadEspCipher)EspCipher.Create(c.Suite, Key(keyMaterial, 0x55), [], EspCryptoLibrary.OpenSslEvp);
        byte[] plain = new byte[size], cipherText = new byte[size], back = new byte[size];
        inner.AsSpan(0, size).CopyTo(plain);
        byte[] inPlace = (byte[])plain.Clone();

        long failures = 0;
        EspLoop(a, b, inner, wire, warmup, ref failures);
        EvpLoop(evp, inPlace, warmup, ref failures);
        NetLoop(net, plain, cipherText, back, warmup);

        var esp = new List<double>();
        var rawRates = new List<double>();
        var netRates = new List<double>();
        var rawRatios = new List<double>();
        var netRatios = new List<double>();
        long allocated = 0, espPackets = 0;
        for (int r = 0; r < repeats; r++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var (n, t) = EspLoop(a, b, inner, wire, measure, ref failures);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            espPackets += n;
            esp.Add(n / t);
            var (rn, rt) = EvpLoop(evp, inPlace, measure, ref failures);
            rawRates.Add(rn / rt);
            var (nn, nt) = NetLoop(net, plain, cipherText, back, measure);
            netRates.Add(nn / nt);
            rawRatios.Add(esp[^1] / rawRates[^1]);
            netRatios.Add(esp[^1] / netRates[^1]);
        }
        double espPps = Stats.Median(esp), rawPps = Stats.Median(rawRates);
        return new Result(espPps, espPps * size * 8 / 1e9, rawPps, rawPps * size * 8 / 1e9, Stats.Median(netRates),
            Stats.Median(rawRatios), Stats.Median(netRatios), espPackets == 0 ? double.NaN : (double)allocated / espPackets, failures);
    }

    private static (long Packets, double Seconds) EspLoop(InMemoryDataPlane a, InMemoryDataPlane b, byte[] inner, byte[] wire,
        TimeSpan duration, ref long failures)
    {
        long n = 0;
        long start = Stopwatch.GetTimestamp();
        double cpuStart = ThreadCpu.Seconds();
        long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long now;
        do
        {
            for (int i = 0; i < 64; i++)
            {
                if (a.Encapsulate(SpiA, inner, wire, out int written) != EspStatus.Ok
                    || b.Decapsulate(wire.AsSpan(0, written), out _) != EspStatus.Ok)
                {
                    failures++;
                }
            }
            n += 64;
        }
        while ((now = Stopwatch.GetTimestamp()) < deadline);
        _ = now;
        return (n, ThreadCpu.Seconds() - cpuStart);
    }

    private static (long Packets, double Seconds) EvpLoop(AeadEspCipher evp, byte[] body, TimeSpan duration, ref long failures)
    {
        Span<byte> nonce = stackalloc byte[12];
        Span<byte> aad = stackalloc byte[8];
        Span<byte> tag = stackalloc byte[16];
        nonce.Fill(0x42);
        long n = 0;
        long start = Stopwatch.GetTimestamp();
        double cpuStart = ThreadCpu.Seconds();
        long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long now;
        do
        {
            for (int i = 0; i < 64; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(nonce[4..], n + i);
                System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(aad, n + i);
                evp.SealCore(nonce, aad, body, tag);
                if (!evp.OpenCore(nonce, aad, body, tag))
                    failures++;
            }
            n += 64;
        }
        while ((now = Stopwatch.GetTimestamp()) < deadline);
        _ = now;
        return (n, ThreadCpu.Seconds() - cpuStart);
    }

    private static (long Packets, double Seconds) NetLoop(IRawAead raw, byte[] plain, byte[] cipherText, byte[] back, TimeSpan duration)
    {
        Span<byte> nonce = stackalloc byte[12];
        Span<byte> aad = stackalloc byte[8];
        Span<byte> tag = stackalloc byte[16];
        nonce.Fill(0x42);
        long n = 0;
        long start = Stopwatch.GetTimestamp();
        double cpuStart = ThreadCpu.Seconds();
        long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long now;
        do
        {
            for (int i = 0; i < 64; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(nonce[4..], n + i);
                System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(aad, n + i);
                raw.Encrypt(nonce, plain, cipherText, tag, aad);
                raw.Decrypt(nonce, cipherText, tag, back, aad);
            }
            n += 64;
        }
        while ((now = Stopwatch.GetTimestamp()) < deadline);
        _ = now;
        return (n, ThreadCpu.Seconds() - cpuStart);
    }

    private static ChildSaInstall Install(EspSuite suite, uint inbound, uint outbound, byte[] inKey, byte[] outKey) => new(
        inbound, outbound, suite, inKey, [], outKey, [], [], [],
        new IPEndPoint(IPAddress.Parse("192.0.2.1"), 4500), new IPEndPoint(IPAddress.Parse("198.51.100.7"), 4500),
        EspTransport.UdpEncapsulated, 128, "bench", "esp");

    private static byte[] Key(int length, byte seed)
    {
        var key = new byte[length];
        for (int i = 0; i < length; i++) key[i] = (byte)(seed + i * 7);
        return key;
    }

    private interface IRawAead : IDisposable
    {
        void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plain, Span<byte> cipher, Span<byte> tag, ReadOnlySpan<byte> aad);
        void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> cipher, ReadOnlySpan<byte> tag, Span<byte> plain, ReadOnlySpan<byte> aad);
    }

    private sealed class RawAesGcm(byte[] key) : IRawAead
    {
        private readonly AesGcm _aead = new(key, 16);
        public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plain, Span<byte> cipher, Span<byte> tag, ReadOnlySpan<byte> aad) =>
            _aead.Encrypt(nonce, plain, cipher, tag, aad);
        public void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> cipher, ReadOnlySpan<byte> tag, Span<byte> plain, ReadOnlySpan<byte> aad) =>
            _aead.Decrypt(nonce, cipher, tag, plain, aad);
        public void Dispose() => _aead.Dispose();
    }

    private sealed class RawChaCha(byte[] key) : IRawAead
    {
        private readonly ChaCha20Poly1305 _aead = new(key);
        public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plain, Span<byte> cipher, Span<byte> tag, ReadOnlySpan<byte> aad) =>
            _aead.Encrypt(nonce, plain, cipher, tag, aad);
        public void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> cipher, ReadOnlySpan<byte> tag, Span<byte> plain, ReadOnlySpan<byte> aad) =>
            _aead.Decrypt(nonce, cipher, tag, plain, aad);
        public void Dispose() => _aead.Dispose();
    }

    /// <summary>CPU time of the calling thread (Linux clock_gettime(CLOCK_THREAD_CPUTIME_ID)).</summary>
    internal static partial class ThreadCpu
    {
        private const int ClockThreadCpuTimeId = 3;

        [StructLayout(LayoutKind.Sequential)]
        private struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        [LibraryImport("libc", EntryPoint = "clock_gettime")]
        private static partial int ClockGetTime(int clock, out Timespec time);

        public static double Seconds() => ClockGetTime(ClockThreadCpuTimeId, out Timespec t) == 0 ? t.Seconds + t.Nanoseconds / 1e9 : double.NaN;
    }
}

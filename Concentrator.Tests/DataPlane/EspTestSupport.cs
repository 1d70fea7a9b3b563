using System.Buffers.Binary;
using System.Net;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;

namespace Concentrator.Tests.DataPlane;

internal static class EspTestSupport
{
    public static byte[] Hex(string hex) => Convert.FromHexString(new string(hex.Where(Uri.IsHexDigit).ToArray()));

    public static string ToHex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static readonly EspSuite Gcm128 = new(EncrAlgorithm.AesGcm16, 128, IntegAlgorithm.None, DhGroup.None, false);
    public static readonly EspSuite Gcm192 = new(EncrAlgorithm.AesGcm16, 192, IntegAlgorithm.None, DhGroup.None, false);
    public static readonly EspSuite Gcm256 = new(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false);
    public static readonly EspSuite ChaCha = new(EncrAlgorithm.ChaCha20Poly1305, 256, IntegAlgorithm.None, DhGroup.None, false);
    public static readonly EspSuite Cbc128Sha256 = new(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false);
    public static readonly EspSuite Cbc256Sha384 = new(EncrAlgorithm.AesCbc, 256, IntegAlgorithm.HmacSha2_384_192, DhGroup.None, false);
    public static readonly EspSuite Cbc256Sha512 = new(EncrAlgorithm.AesCbc, 256, IntegAlgorithm.HmacSha2_512_256, DhGroup.None, false);
    public static readonly EspSuite Cbc128Sha512 = new(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_512_256, DhGroup.None, false);

    /// <summary>Weak (RFC 8221), for legacy peers with weak_algorithms: 3DES-CBC (RFC 2451) with HMAC-SHA1-96 (RFC 2404).</summary>
    public static readonly EspSuite TripleDesSha1 = new(EncrAlgorithm.TripleDes, 192, IntegAlgorithm.HmacSha1_96, DhGroup.None, false);

    public static readonly EspSuite[] AllSuites = [Gcm128, Gcm192, Gcm256, ChaCha, Cbc128Sha256, Cbc256Sha384, Cbc256Sha512, Cbc128Sha512, TripleDesSha1];

    /// <summary>Every suite of <see cref="AllSuites"/> by index, without and with ESN.</summary>
    public static TheoryData<int, bool> SuitesAndEsn()
    {
        var data = new TheoryData<int, bool>();
        for (int i = 0; i < AllSuites.Length; i++)
        {
            data.Add(i, false);
            data.Add(i, true);
        }
        return data;
    }

    public static int EncryptionKeyLength(EspSuite suite) => suite.Encryption switch
    {
        EncrAlgorithm.AesGcm16 => suite.KeyBits / 8 + 4,
        EncrAlgorithm.ChaCha20Poly1305 => 36,
        _ => suite.KeyBits / 8,
    };

    public static int IntegrityKeyLength(EspSuite suite) => suite.Integrity switch
    {
        IntegAlgorithm.HmacSha1_96 => 20,
        IntegAlgorithm.HmacSha2_256_128 => 32,
        IntegAlgorithm.HmacSha2_384_192 => 48,
        IntegAlgorithm.HmacSha2_512_256 => 64,
        _ => 0,
    };

    public static byte[] Key(int length, byte seed)
    {
        var key = new byte[length];
        for (int i = 0; i < length; i++)
            key[i] = (byte)(seed + i * 7);
        return key;
    }

    public static ChildSaInstall Install(EspSuite suite, uint inboundSpi, uint outboundSpi,
        byte[] inEnc, byte[] inInteg, byte[] outEnc, byte[] outInteg, int replayWindow = 128) => new(
        inboundSpi, outboundSpi, suite, inEnc, inInteg, outEnc, outInteg,
        [], [],
        new IPEndPoint(IPAddress.Parse("192.0.2.1"), 4500),
        new IPEndPoint(IPAddress.Parse("198.51.100.7"), 4500),
        EspTransport.UdpEncapsulated, replayWindow, "conn", "child");

    /// <summary>Two data planes wired back to back: A's outbound is B's inbound and vice versa.</summary>
    public sealed class Pair : IDisposable
    {
        public const uint SpiA = 0xc0de0001; // A's inbound SPI
        public const uint SpiB = 0xc0de0002; // B's inbound SPI
        public readonly InMemoryDataPlane A = new();
        public readonly InMemoryDataPlane B = new();
        public readonly byte[] KeyAtoB, IntegAtoB, KeyBtoA, IntegBtoA;

        /// <param name="mode">Transport: host-to-host SAs between <see cref="Ipv4"/>'s addresses (A is 10.0.0.1, B 10.0.0.2).</param>
        public Pair(EspSuite suite, int replayWindow = 128, IpsecMode mode = IpsecMode.Tunnel)
        {
            KeyAtoB = Key(EncryptionKeyLength(suite), 0x11);
            IntegAtoB = Key(IntegrityKeyLength(suite), 0x22);
            KeyBtoA = Key(EncryptionKeyLength(suite), 0x33);
            IntegBtoA = Key(IntegrityKeyLength(suite), 0x44);
            // Each plane owns (and zeroes) its own arrays.
            var a = Install(suite, SpiA, SpiB, (byte[])KeyBtoA.Clone(), (byte[])IntegBtoA.Clone(), (byte[])KeyAtoB.Clone(), (byte[])IntegAtoB.Clone(), replayWindow);
            var b = Install(suite, SpiB, SpiA, (byte[])KeyAtoB.Clone(), (byte[])IntegAtoB.Clone(), (byte[])KeyBtoA.Clone(), (byte[])IntegBtoA.Clone(), replayWindow);
            if (mode == IpsecMode.Transport)
            {
                TrafficSelector host(string address) => new(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Parse(address), IPAddress.Parse(address));
                a = a with { Mode = mode, LocalTs = [host("10.0.0.1")], RemoteTs = [host("10.0.0.2")] };
                b = b with { Mode = mode, LocalTs = [host("10.0.0.2")], RemoteTs = [host("10.0.0.1")] };
            }
            A.AddSa(a);
            B.AddSa(b);
        }

        public EspSa SaA { get { A.TryGetSa(SpiA, out var sa); return sa; } }
        public EspSa SaB { get { B.TryGetSa(SpiB, out var sa); return sa; } }

        /// <summary>A encapsulates; returns the ESP packet bytes.</summary>
        public byte[] Send(ReadOnlySpan<byte> inner)
        {
            var buffer = new byte[inner.Length + 128];
            var status = A.Encapsulate(SpiA, inner, buffer, out int written);
            Assert.Equal(EspStatus.Ok, status);
            return buffer[..written];
        }

        public void Dispose()
        {
            A.Dispose();
            B.Dispose();
        }
    }

    /// <summary>An IPv4 packet of exactly <paramref name="length"/> bytes (>= 20), UDP, patterned payload.</summary>
    public static byte[] Ipv4(int length, byte fill = 0)
    {
        var p = new byte[length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)length);
        p[8] = 64;
        p[9] = 17;
        new byte[] { 10, 0, 0, 1, 10, 0, 0, 2 }.CopyTo(p, 12);
        for (int i = 20; i < length; i++)
            p[i] = (byte)(i * 31 + fill);
        return p;
    }

    /// <summary>An IPv6 packet of exactly <paramref name="length"/> bytes (>= 40), UDP, patterned payload.</summary>
    public static byte[] Ipv6(int length, byte fill = 0)
    {
        var p = new byte[length];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(length - 40));
        p[6] = 17;
        p[7] = 64;
        p[8] = 0x20; p[9] = 0x01; p[10] = 0x0d; p[11] = 0xb8; p[23] = 1;
        p[24] = 0x20; p[25] = 0x01; p[26] = 0x0d; p[27] = 0xb8; p[39] = 2;
        for (int i = 40; i < length; i++)
            p[i] = (byte)(i * 17 + fill);
        return p;
    }
}

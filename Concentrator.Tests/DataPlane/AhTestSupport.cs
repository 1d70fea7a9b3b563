using System.Net;
using Concentrator.DataPlane;
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.DataPlane;

internal static class AhTestSupport
{
    public static readonly IntegAlgorithm[] AhAlgorithms =
        [IntegAlgorithm.HmacSha2_256_128, IntegAlgorithm.HmacSha2_384_192, IntegAlgorithm.HmacSha2_512_256];

    public static EspSuite Suite(IntegAlgorithm integrity, bool esn) => new(EncrAlgorithm.Null, 0, integrity, DhGroup.None, esn, IpsecProtocol.Ah);

    public static int KeyLength(IntegAlgorithm integrity) => Concentrator.Ipsec.Algorithms.IntegrityKeyLength(integrity);

    /// <summary>An AH SA; the arrays are copied (the plane owns and zeroes what it is given).</summary>
    public static ChildSaInstall Install(IntegAlgorithm integrity, bool esn, uint inboundSpi, uint outboundSpi, byte[] inKey, byte[] outKey,
        string local = "192.0.2.1", string remote = "198.51.100.7", IpsecMode mode = IpsecMode.Tunnel, int replayWindow = 128) => new(
        inboundSpi, outboundSpi, Suite(integrity, esn), [], (byte[])inKey.Clone(), [], (byte[])outKey.Clone(),
        mode == IpsecMode.Transport ? [Host(local)] : [], mode == IpsecMode.Transport ? [Host(remote)] : [],
        new IPEndPoint(IPAddress.Parse(local), 0), new IPEndPoint(IPAddress.Parse(remote), 0),
        EspTransport.RawEsp, replayWindow, "conn", "child", Mode: mode);

    public static TrafficSelector Host(string address) =>
        new(IPAddress.Parse(address).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? TsType.Ipv4AddressRange : TsType.Ipv6AddressRange,
            0, 0, 65535, IPAddress.Parse(address), IPAddress.Parse(address));

    /// <summary>Two planes back to back: A protects with SPI <see cref="SpiB"/>, B verifies (and the reverse).</summary>
    public sealed class AhPair : IDisposable
    {
        public const uint SpiA = 0xa0a00001;
        public const uint SpiB = 0xa0a00002;
        public readonly InMemoryDataPlane A = new();
        public readonly InMemoryDataPlane B = new();

        public AhPair(IntegAlgorithm integrity, bool esn = false, bool ipv6Outer = false, IpsecMode mode = IpsecMode.Tunnel, int replayWindow = 128)
        {
            var aToB = Key(KeyLength(integrity), 0x21);
            var bToA = Key(KeyLength(integrity), 0x43);
            string a = mode == IpsecMode.Transport ? "10.0.0.1" : ipv6Outer ? "2001:db8::1" : "192.0.2.1";
            string b = mode == IpsecMode.Transport ? "10.0.0.2" : ipv6Outer ? "2001:db8::2" : "198.51.100.7";
            A.AddSa(Install(integrity, esn, SpiA, SpiB, bToA, aToB, a, b, mode, replayWindow));
            B.AddSa(Install(integrity, esn, SpiB, SpiA, aToB, bToA, b, a, mode, replayWindow));
        }

        public EspSa SaA { get { A.TryGetSa(SpiA, out var sa); return sa; } }
        public EspSa SaB { get { B.TryGetSa(SpiB, out var sa); return sa; } }

        /// <summary>A protects <paramref name="inner"/>; the whole outer packet.</summary>
        public byte[] Send(ReadOnlySpan<byte> inner)
        {
            var buffer = new byte[inner.Length + 200];
            Assert.Equal(EspStatus.Ok, A.ProtectAh(SpiA, inner, buffer, out int written));
            return buffer[..written];
        }

        /// <summary>B verifies a copy of <paramref name="packet"/> (with room for ESN); the status and the inner packet.</summary>
        public (EspStatus Status, byte[] Inner) Receive(byte[] packet)
        {
            var buffer = new byte[packet.Length + AhIcv.EsnRoom];
            packet.CopyTo(buffer, 0);
            var status = B.OpenAh(buffer, packet.Length, out var inner);
            return (status, status == EspStatus.Ok ? buffer[inner] : []);
        }

        public void Dispose()
        {
            A.Dispose();
            B.Dispose();
        }
    }
}

using System.Buffers.Binary;
using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;

namespace Concentrator.Testbed.Support;

/// <summary>
/// Valid IKE_SA_INIT requests for floods: one real request of our initiator (SA, KE, Ni, NAT-D) whose initiator SPI
/// is rewritten per copy. A responder treats every SPI as a new peer and does the full DH for it.
/// </summary>
public sealed class InitRequests
{
    private readonly byte[] _template;

    public InitRequests(string proposals = "aes256gcm16-prfsha256-ecp256")
    {
        var config = ConcentratorConfig.Parse(TestGateway.InitiatorYaml(proposals: proposals), "<flood>");
        var context = new IkeSaContext { Resolver = new ConfigConnectionResolver(config), DataPlane = new InMemoryDataPlane() };
        using var sa = IkeSa.CreateInitiator(context, config.Connections["site"], 1,
            new IPEndPoint(IPAddress.Loopback, 500), new IPEndPoint(IPAddress.Loopback, 500));
        sa.Initiate();
        _template = sa.DrainEffects().OfType<SendMessage>().First().Datagram;
    }

    public int Length => _template.Length;

    /// <summary>Writes the request with initiator SPI <paramref name="spi"/> into <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination, ulong spi)
    {
        _template.CopyTo(destination);
        BinaryPrimitives.WriteUInt64BigEndian(destination, spi);
    }

    public byte[] Next(ulong spi)
    {
        var copy = new byte[_template.Length];
        Write(copy, spi);
        return copy;
    }
}

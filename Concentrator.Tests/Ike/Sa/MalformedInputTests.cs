using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>Garbage on the IKE port is counted and dropped; the gateway keeps serving real peers.</summary>
public sealed class MalformedInputTests
{
    [Fact]
    public async Task Hostile_datagrams_are_counted_and_the_gateway_keeps_working()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: "resp");
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        long truncatedBefore = IkeStats.MalformedCount(ParseStatus.Truncated);
        long versionBefore = IkeStats.MalformedCount(ParseStatus.BadVersion);
        long lengthBefore = IkeStats.MalformedCount(ParseStatus.BadLength);
        long unknownBefore = IkeStats.DropCount(IkeDropReason.UnknownSpi);

        // 50 runts shorter than an IKE header.
        for (int i = 0; i < 50; i++) await udp.SendAsync(new byte[i % 27 + 1], responder.Endpoint);

        // 50 headers with major version 1 (IKEv1) and 50 whose Length lies.
        var header = new byte[28];
        BinaryPrimitives.WriteUInt64BigEndian(header, 0x0102030405060708);
        header[16] = (byte)PayloadType.SecurityAssociation;
        header[18] = (byte)ExchangeType.IkeSaInit;
        header[19] = (byte)IkeFlags.Initiator;
        for (int i = 0; i < 50; i++)
        {
            header[17] = 0x10;
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(24), 28);
            await udp.SendAsync(header, responder.Endpoint);
            header[17] = 0x20;
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(24), 9999);
            await udp.SendAsync(header, responder.Endpoint);
        }

        // 50 well-formed headers for IKE SAs that do not exist.
        for (int i = 0; i < 50; i++)
        {
            var msg = new byte[28];
            BinaryPrimitives.WriteUInt64BigEndian(msg, (ulong)i + 1);
            BinaryPrimitives.WriteUInt64BigEndian(msg.AsSpan(8), (ulong)i + 77);
            msg[17] = 0x20;
            msg[18] = (byte)ExchangeType.Informational;
            msg[19] = (byte)IkeFlags.Initiator;
            BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(20), 1);
            BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(24), 28);
            await udp.SendAsync(msg, responder.Endpoint);
        }

        // 200 random datagrams of random sizes (fixed seed).
        var random = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(1, 1500)];
            random.NextBytes(junk);
            await udp.SendAsync(junk, responder.Endpoint);
        }

        await Eventually.TrueAsync(() =>
            IkeStats.MalformedCount(ParseStatus.Truncated) - truncatedBefore >= 50 &&
            IkeStats.MalformedCount(ParseStatus.BadVersion) - versionBefore >= 50 &&
            IkeStats.MalformedCount(ParseStatus.BadLength) - lengthBefore >= 50 &&
            IkeStats.DropCount(IkeDropReason.UnknownSpi) - unknownBefore >= 50, "every hostile datagram was counted");

        Assert.Equal(0, await responder.Gateway.CountSasAsync());

        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 1, "a real peer still gets its tunnel");
    }
}

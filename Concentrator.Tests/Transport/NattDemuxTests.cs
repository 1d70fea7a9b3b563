using Concentrator.Transport;

namespace Concentrator.Tests.Transport;

/// <summary>RFC 3948 §2.2-2.3: what a datagram on the NAT-T port is.</summary>
public sealed class NattDemuxTests
{
    [Fact]
    public void One_ff_octet_is_a_keepalive()
    {
        Assert.Equal(NattDatagram.Keepalive, NattDemux.Classify([0xFF], out var ike));
        Assert.True(ike.IsEmpty);
    }

    [Fact]
    public void The_non_esp_marker_means_ike_and_is_stripped()
    {
        byte[] datagram = [0, 0, 0, 0, 0x11, 0x22, 0x33];
        Assert.Equal(NattDatagram.Ike, NattDemux.Classify(datagram, out var ike));
        Assert.Equal([0x11, 0x22, 0x33], ike.ToArray());

        Assert.Equal(NattDatagram.Ike, NattDemux.Classify([0, 0, 0, 0], out ike)); // the marker alone: IKE, empty
        Assert.True(ike.IsEmpty);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0, 0, 1 })] // SPI 1
    [InlineData(new byte[] { 0xFF, 0xFF })]              // a 0xFF that is not alone
    [InlineData(new byte[] { 0, 0, 0 })]                 // shorter than the marker
    [InlineData(new byte[] { 0xFE })]
    [InlineData(new byte[0])]
    public void Everything_else_is_esp(byte[] datagram)
    {
        Assert.Equal(NattDatagram.Esp, NattDemux.Classify(datagram, out var ike));
        Assert.True(ike.IsEmpty);
    }
}

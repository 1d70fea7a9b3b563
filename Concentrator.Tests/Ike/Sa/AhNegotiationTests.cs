using Concentrator.Config;
using Concentrator.DataPlane.Esp;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using static Concentrator.Tests.DataPlane.EspTestSupport;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// ah_proposals (swanctl; RFC 4302 negotiated by RFC 7296 with protocol ID AH): two of our IKE SAs wired message by
/// message agree an AH child in IKE_AUTH and on rekey with PFS, each installs its half with the KEYMAT's integrity keys
/// (§2.17 order, no encryption keys), and what one plane protects the other verifies. Deleting it names AH. Config:
/// AH beside ESP on one child, encryption in an AH proposal, "default" and weak algorithms without weak_algorithms are
/// load errors naming the key.
/// </summary>
public sealed class AhNegotiationTests
{
    private static string Ah(string yaml, string ah) => yaml.Replace("esp_proposals: [aes256gcm16]", $"ah_proposals: [{ah}]");

    private static (RekeyHarness.Side I, RekeyHarness.Side R) Established(string initiatorAh, string responderAh) =>
        RekeyHarness.EstablishedWith(Ah(TestGateway.InitiatorYaml(), initiatorAh), Ah(TestGateway.ResponderYaml(), responderAh));

    /// <summary>An inner packet protected by <paramref name="from"/>'s SA for <paramref name="fromSpi"/> verifies at <paramref name="to"/>.</summary>
    private static void AssertCarries(RekeyHarness.Side from, uint fromSpi, RekeyHarness.Side to)
    {
        var inner = TestPacket();
        var buffer = new byte[inner.Length + 200];
        Assert.Equal(EspStatus.Ok, from.Plane.ProtectAh(fromSpi, inner, buffer, out int written));
        Assert.Equal(51, buffer[9]);
        var (status, got) = Open(to, buffer, written);
        Assert.Equal(EspStatus.Ok, status);
        Assert.Equal(inner, got);
        buffer[20 + AhHeader.FixedLength] ^= 1;
        Assert.NotEqual(EspStatus.Ok, Open(to, buffer, written).Status);
    }

    private static (EspStatus Status, byte[] Inner) Open(RekeyHarness.Side to, byte[] packet, int length)
    {
        var copy = new byte[length + AhIcv.EsnRoom];
        packet.AsSpan(0, length).CopyTo(copy);
        var status = to.Plane.OpenAh(copy, length, out var inner);
        return (status, status == EspStatus.Ok ? copy[inner] : []);
    }

    private static byte[] TestPacket()
    {
        var p = Ipv4(120);
        new byte[] { 10, 200, 1, 5, 10, 10, 0, 9 }.CopyTo(p, 12);
        return p;
    }

    [Theory]
    [InlineData("sha256", "sha256", IntegAlgorithm.HmacSha2_256_128, false)]
    [InlineData("sha384-esn", "sha512-sha384-esn-noesn", IntegAlgorithm.HmacSha2_384_192, true)]
    [InlineData("sha512", "sha256-sha512", IntegAlgorithm.HmacSha2_512_256, false)]
    public void Ike_auth_agrees_an_AH_child_whose_halves_interoperate(string initiatorAh, string responderAh, IntegAlgorithm integrity, bool esn)
    {
        var (i, r) = Established(initiatorAh, responderAh);
        var ic = Assert.Single(i.Sa.Children);
        var rc = Assert.Single(r.Sa.Children);
        foreach (var suite in new[] { ic.Suite, rc.Suite })
        {
            Assert.Equal(IpsecProtocol.Ah, suite.Protocol);
            Assert.Equal(EncrAlgorithm.Null, suite.Encryption);
            Assert.Equal(integrity, suite.Integrity);
            Assert.Equal(esn, suite.Esn);
        }
        Assert.Equal(ic.OutboundSpi, rc.InboundSpi);
        AssertCarries(i, ic.InboundSpi, r);
        AssertCarries(r, rc.InboundSpi, i);
    }

    [Fact]
    public void A_rekey_with_PFS_replaces_the_AH_child_with_another_AH_child()
    {
        var (i, r) = Established("sha256-x25519", "sha256-x25519");
        var old = i.Sa.Children.Single();
        Assert.True(i.Sa.RekeyChild(old.InboundSpi));
        RekeyHarness.Pump(i, r);
        var ic = Assert.Single(i.Sa.Children);
        var rc = Assert.Single(r.Sa.Children);
        Assert.NotEqual(old.InboundSpi, ic.InboundSpi);
        Assert.Equal((IpsecProtocol.Ah, DhGroup.Curve25519), (ic.Suite.Protocol, ic.Suite.Group));
        Assert.Equal((IpsecProtocol.Ah, DhGroup.Curve25519), (rc.Suite.Protocol, rc.Suite.Group));
        Assert.Equal(1, i.Plane.InstalledCount);
        AssertCarries(i, ic.InboundSpi, r);
        AssertCarries(r, rc.InboundSpi, i);
    }

    [Fact]
    public void An_AH_child_is_deleted_with_a_delete_payload_naming_AH()
    {
        var (i, r) = Established("sha256", "sha256");
        var child = i.Sa.Children.Single();
        i.Sa.DeleteChild(child.InboundSpi);
        var request = i.Drain().Single().Datagram;
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(request, out var message));
        Assert.Equal(ParseStatus.Ok, r.Sa.Protector!.TryOpen(request, message!));
        Assert.Equal(ProtocolId.Ah, message!.GetAll<DeletePayload>().Single().Protocol);
        r.Receive(request, i.Self);
        RekeyHarness.Pump(i, r);
        Assert.Empty(r.Sa.Children);
        Assert.Empty(i.Sa.Children);
        Assert.Equal(0, r.Plane.InstalledCount);
    }

    [Fact]
    public void An_AH_offer_never_matches_an_ESP_child()
    {
        var rYaml = TestGateway.ResponderYaml();
        var (i, r) = RekeyHarness.EstablishedWith(Ah(TestGateway.InitiatorYaml(), "sha256"), rYaml);
        Assert.Empty(i.Sa.Children);
        Assert.Empty(r.Sa.Children);
        Assert.Equal(0, r.Plane.InstalledCount);
    }

    [Theory]
    [InlineData("ah_proposals: [sha256]\n        esp_proposals: [aes256gcm16]", "ah_proposals", "cannot be combined with esp_proposals")]
    [InlineData("ah_proposals: [aes128-sha256]", "ah_proposals[0]", "AH only authenticates")]
    [InlineData("ah_proposals: [x25519]", "ah_proposals[0]", "names no integrity algorithm")]
    [InlineData("ah_proposals: [default]", "ah_proposals[0]", "not supported in ah_proposals")]
    [InlineData("ah_proposals: [sha1]", "ah_proposals[0]", "weak")]
    [InlineData("ah_proposals: [sha256-bogus]", "ah_proposals[0]", "unknown AH proposal keyword 'bogus'")]
    public void Bad_ah_proposals_are_load_errors_naming_the_key(string replacement, string keySuffix, string problem)
    {
        var yaml = TestGateway.ResponderYaml().Replace("esp_proposals: [aes256gcm16]", replacement);
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, "ah.yaml"));
        Assert.Equal("ah.yaml", e.File);
        Assert.EndsWith(keySuffix, e.KeyPath);
        Assert.Contains(problem, e.Problem, StringComparison.OrdinalIgnoreCase);
    }
}

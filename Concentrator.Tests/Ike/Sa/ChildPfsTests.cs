using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// Perfect forward secrecy of CREATE_CHILD_SA as responder (RFC 7296 §1.3.1, §2.7): a child whose esp_proposals name
/// a DH group is created or rekeyed only with a key exchange in that group. strongSwan's child_create selects with the
/// KE transforms in CREATE_CHILD_SA (never PROPOSAL_SKIP_KE there): a proposal without a group does not match one that
/// requires it (NO_PROPOSAL_CHOSEN), and a proposal with the group but no KE payload is asked for it (INVALID_KE_PAYLOAD).
/// </summary>
public sealed class ChildPfsTests
{
    private static List<Payload> Answer(RekeyHarness.Side from, RekeyHarness.Side to, byte[] response)
    {
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(response, out var message));
        Assert.Equal(ParseStatus.Ok, to.Sa.Protector!.TryOpen(response, message!));
        return message!.Payloads;
    }

    /// <summary>Delivers the initiator's next request to the responder and returns the responder's answer (not delivered).</summary>
    private static byte[] Exchange(RekeyHarness.Side i, RekeyHarness.Side r, Func<byte[], byte[]>? edit = null)
    {
        var request = i.Drain().Single().Datagram;
        r.Receive(edit is null ? request : edit(request), i.Self);
        return r.Drain().Single().Datagram;
    }

    [Fact]
    public void A_create_child_sa_without_ke_is_refused_when_the_child_requires_pfs()
    {
        var (i, r) = RekeyHarness.Established(initiatorEsp: "aes256gcm16", responderEsp: "aes256gcm16-x25519");
        i.Sa.CreateChild(i.Sa.Connection!.Children["net"]);

        var answer = Answer(r, i, Exchange(i, r));

        Assert.Equal(NotifyType.NoProposalChosen, Assert.IsType<NotifyPayload>(Assert.Single(answer)).NotifyType);
        Assert.Equal(1, r.Plane.InstalledCount);
        Assert.Single(r.Sa.Children);
    }

    [Fact]
    public void A_child_rekey_without_ke_is_refused_when_the_child_requires_pfs()
    {
        var (i, r) = RekeyHarness.Established(initiatorEsp: "aes256gcm16", responderEsp: "aes256gcm16-x25519");
        var old = r.Sa.Children.Single();
        Assert.True(i.Sa.RekeyChild(i.Sa.Children.Single().InboundSpi));

        var answer = Answer(r, i, Exchange(i, r));

        Assert.Equal(NotifyType.NoProposalChosen, Assert.IsType<NotifyPayload>(Assert.Single(answer)).NotifyType);
        Assert.Equal(old.InboundSpi, r.Sa.Children.Single().InboundSpi);
        Assert.Equal(1, r.Plane.InstalledCount);
    }

    [Fact]
    public void A_pfs_proposal_without_its_ke_payload_is_asked_for_the_group()
    {
        var (i, r) = RekeyHarness.Established(initiatorEsp: "aes256gcm16-x25519", responderEsp: "aes256gcm16-x25519");
        i.Sa.CreateChild(i.Sa.Connection!.Children["net"]);

        // The request as a peer would send it with the KE payload left out (the SA payload still names x25519).
        var answer = Answer(r, i, Exchange(i, r, request =>
        {
            IkeCodec.TryDecode(request, out var message);
            Assert.Equal(ParseStatus.Ok, r.Sa.Protector!.TryOpen(request, message!));
            var withoutKe = message!.Payloads.Where(p => p.Type != PayloadType.KeyExchange).ToList();
            return i.Sa.Protector!.Seal(message.Header with { NextPayload = PayloadType.None, Length = 0 }, withoutKe);
        }));

        var notify = Assert.IsType<NotifyPayload>(Assert.Single(answer));
        Assert.Equal(NotifyType.InvalidKePayload, notify.NotifyType);
        Assert.Equal(new byte[] { 0, (byte)DhGroup.Curve25519 }, notify.Data);
        Assert.Equal(1, r.Plane.InstalledCount);
    }

    [Theory]
    [InlineData("aes256gcm16", "aes256gcm16-x25519-none", DhGroup.None)]        // PFS optional on our side: no KE is fine
    [InlineData("aes256gcm16-x25519", "aes256gcm16-x25519", DhGroup.Curve25519)] // PFS on both sides
    [InlineData("aes256gcm16", "aes256gcm16", DhGroup.None)]                     // PFS on neither
    public void A_child_is_created_when_the_key_exchange_fits_the_esp_proposals(string initiatorEsp, string responderEsp, DhGroup group)
    {
        var (i, r) = RekeyHarness.Established(initiatorEsp, responderEsp);
        i.Sa.CreateChild(i.Sa.Connection!.Children["net"]);
        RekeyHarness.Pump(i, r);

        Assert.Equal(2, r.Plane.InstalledCount);
        Assert.Equal(2, i.Plane.InstalledCount);
        Assert.Equal(group, r.Sa.Children.Last().Suite.Group);
    }
}

using Concentrator.Ike.Connections;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Actors;

/// <summary>
/// swanctl's unique policies on one node (strongSwan's ike_sa_manager check_uniqueness): a responder on loopback and two
/// of our initiators logging in as the same user from two ports (two addresses to the policy, which compares address and
/// port as strongSwan's host_t does). An initiator whose own connection has unique never sends no INITIAL_CONTACT, as
/// strongSwan's; the others send it.
/// </summary>
public sealed class UniquePolicyTests
{
    private static string Responder(string unique) =>
        TestGateway.ResponderYaml().Replace("    local: { auth: psk, id: gw.test }", $"    unique: {unique}\n    local: {{ auth: psk, id: gw.test }}");

    private static string Initiator(string user = "site.test", bool initialContact = false)
    {
        var yaml = TestGateway.InitiatorYaml().Replace("local: { auth: psk, id: site.test }", $"local: {{ auth: psk, id: {user} }}");
        return initialContact ? yaml : yaml.Replace("    remote_addrs:", "    unique: never\n    remote_addrs:");
    }

    private static double Count(TestGateway gw, string policy, UniqueOutcome outcome) => gw.Gateway.Metrics.Users.UniqueCount(policy, outcome);

    [Fact]
    public async Task Keep_refuses_a_second_login_of_the_same_user_and_keeps_the_first()
    {
        await using var responder = TestGateway.Start(Responder("keep"), name: "resp");
        await using var first = TestGateway.Start(Initiator(), name: "first");
        await using var second = TestGateway.Start(Initiator(), name: "second");

        first.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => first.Events.Up.Count == 1 && responder.DataPlane.InstalledCount == 1, "the first login is up");
        second.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => second.Events.Down.Count == 1, "the second login was answered");

        Assert.Equal(CloseReason.AuthFailed, second.Events.Down.Single().Reason);
        Assert.Empty(second.Events.Up);
        Assert.Equal(1, Count(responder, "keep", UniqueOutcome.Refused));
        await Task.Delay(300);
        Assert.Empty(first.Events.Down);
        Assert.Single(responder.Events.Up);
        Assert.Equal(1, responder.DataPlane.InstalledCount);
    }

    [Fact]
    public async Task Replace_deletes_the_first_login_with_its_peer()
    {
        await using var responder = TestGateway.Start(Responder("replace"), name: "resp");
        await using var first = TestGateway.Start(Initiator(), name: "first");
        await using var second = TestGateway.Start(Initiator(), name: "second");

        first.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => first.Events.Up.Count == 1, "the first login is up");
        second.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => second.Events.Up.Count == 1, "the second login is up");
        await Eventually.TrueAsync(() => first.Events.Down.Count == 1, "the first peer was told");

        Assert.Equal(CloseReason.DeletedByPeer, first.Events.Down.Single().Reason);
        Assert.Equal(1, Count(responder, "replace", UniqueOutcome.Deleted));
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 1 && second.DataPlane.InstalledCount == 1,
            "only the second login's child is installed");
    }

    [Fact]
    public async Task Replace_from_the_same_address_deletes_the_older_sa_only_after_the_reauthentication_delay()
    {
        await using var responder = TestGateway.Start(Responder("replace"), name: "resp");
        await using var peer = TestGateway.Start(Initiator(), name: "peer");

        peer.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => peer.Events.Up.Count == 1, "the first login is up");
        peer.Initiate("site", responder.Endpoint); // the same address and port: strongSwan suspects a reauthentication
        await Eventually.TrueAsync(() => peer.Events.Up.Count == 2, "the second login is up");
        Assert.Equal(1, Count(responder, "replace", UniqueOutcome.DeletedAfterReauth));
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Empty(peer.Events.Down); // a reauthenticating peer deletes the old SA itself meanwhile

        await Eventually.TrueAsync(() => peer.Events.Down.Count == 1, "the older SA was deleted after the delay", 15);
        Assert.Equal(CloseReason.DeletedByPeer, peer.Events.Down.Single().Reason);
        Assert.Equal(0, Count(responder, "replace", UniqueOutcome.Deleted));
    }

    [Fact]
    public async Task Replace_leaves_other_users_alone()
    {
        await using var responder = TestGateway.Start(Responder("replace"), name: "resp");
        await using var first = TestGateway.Start(Initiator("alice.test"), name: "first");
        await using var second = TestGateway.Start(Initiator("bob.test"), name: "second");

        first.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => first.Events.Up.Count == 1, "alice is up");
        second.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => second.Events.Up.Count == 1 && responder.DataPlane.InstalledCount == 2, "bob is up too");
        await Task.Delay(300);
        Assert.Empty(first.Events.Down);
        Assert.Equal(0, Count(responder, "replace", UniqueOutcome.Deleted));
    }

    [Theory]
    [InlineData("no")]
    [InlineData("keep")]
    [InlineData("replace")]
    public async Task Initial_contact_closes_the_users_older_sa_without_a_delete(string unique)
    {
        await using var responder = TestGateway.Start(Responder(unique), name: "resp");
        await using var first = TestGateway.Start(Initiator(), name: "first");
        await using var second = TestGateway.Start(Initiator(initialContact: true), name: "second");

        first.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => first.Events.Up.Count == 1, "the first login is up");
        second.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => second.Events.Up.Count == 1, "the login with INITIAL_CONTACT is up (keep too, as strongSwan)");
        await Eventually.TrueAsync(() => responder.Events.Down.Any(d => d.Reason == CloseReason.Replaced), "the older SA was replaced");

        Assert.Equal(1, Count(responder, unique, UniqueOutcome.InitialContact));
        await Task.Delay(300);
        Assert.Empty(first.Events.Down); // no Delete went to the peer that restarted
        Assert.Equal(1, responder.DataPlane.InstalledCount);
    }

    [Fact]
    public async Task Never_keeps_duplicates_even_with_initial_contact()
    {
        await using var responder = TestGateway.Start(Responder("never"), name: "resp");
        await using var first = TestGateway.Start(Initiator(), name: "first");
        await using var second = TestGateway.Start(Initiator(initialContact: true), name: "second");

        first.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => first.Events.Up.Count == 1, "the first login is up");
        second.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => second.Events.Up.Count == 1 && responder.DataPlane.InstalledCount == 2, "both logins are up");
        await Task.Delay(300);
        Assert.Empty(responder.Events.Down);
    }

    [Fact]
    public void Loader_reads_every_policy()
    {
        foreach (var (text, policy) in new[] { ("no", UniquePolicy.No), ("never", UniquePolicy.Never), ("keep", UniquePolicy.Keep), ("replace", UniquePolicy.Replace) })
        {
            Assert.Equal(policy, Concentrator.Config.ConcentratorConfig.Parse(Responder(text), "<t>").Connections["rw"].Unique);
        }
    }
}

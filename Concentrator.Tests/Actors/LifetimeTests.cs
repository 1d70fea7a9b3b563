using System.Net;
using System.Text.RegularExpressions;
using Akka.Actor;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Ike.Sa;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Actors;

/// <summary>Child SA lifetimes drive rekeys through the actors (named timers), over loopback UDP.</summary>
public sealed class LifetimeTests
{
    private static string WithChildKeys(string yaml, string keys) =>
        Regex.Replace(yaml, @"^( *)esp_proposals: (.*)$", m => $"{m.Value}\n{m.Groups[1].Value}{keys.Replace("\n", "\n" + m.Groups[1].Value)}",
            RegexOptions.Multiline);

    [Fact]
    public async Task Rekey_time_rekeys_repeatedly_keeping_one_working_child_per_side()
    {
        await using var responder = TestGateway.Start(WithChildKeys(TestGateway.ResponderYaml(), "rekey_time: 5s"), name: "resp");
        await using var initiator = TestGateway.Start(WithChildKeys(TestGateway.InitiatorYaml(), "rekey_time: 2s"), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "child installed");

        var spis = new HashSet<uint>(initiator.DataPlane.InstalledSpis());
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (spis.Count < 4 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            foreach (var spi in initiator.DataPlane.InstalledSpis()) spis.Add(spi);
        }

        Assert.True(spis.Count >= 4, $"at least 3 rekeys within 20 s (saw {spis.Count - 1})");
        // Between rekeys each side settles on exactly one Child SA and the tunnel still carries ESP.
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "one child per side");
        LoopbackExchangeTests.AssertEspFlows(initiator.DataPlane, responder.DataPlane, IPAddress.Parse("10.200.1.3"), IPAddress.Parse("10.10.0.3"));
        Assert.Single(initiator.Events.Up);
        Assert.Empty(initiator.Events.Down);
    }

    [Fact]
    public async Task Rekey_bytes_rekeys_the_child_by_volume()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: "resp");
        await using var initiator = TestGateway.Start(WithChildKeys(TestGateway.InitiatorYaml(), "rekey_bytes: 2k\nlife_bytes: 1M"), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "child installed");
        uint first = initiator.DataPlane.InstalledSpis().Single();

        // 30 packets of ~100 bytes pass 2 KiB: the next counter pull asks for a rekey.
        for (int n = 0; n < 30; n++)
        {
            LoopbackExchangeTests.AssertEspFlows(initiator.DataPlane, responder.DataPlane, IPAddress.Parse("10.200.1.3"), IPAddress.Parse("10.10.0.3"));
        }
        initiator.DataPlane.FlushAll();
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledSpis() is { Count: 1 } s && s.Single() != first, "the child was rekeyed by volume");
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 1, "the responder dropped the old SA");
    }

    private static string WithConnectionKeys(string yaml, string keys) =>
        Regex.Replace(yaml, @"^( *)proposals: (.*)$", m => $"{m.Value}\n{m.Groups[1].Value}{keys.Replace("\n", "\n" + m.Groups[1].Value)}",
            RegexOptions.Multiline);

    [Fact]
    public async Task Ike_rekey_time_rekeys_the_ike_sa_and_keeps_the_tunnel()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: "resp");
        await using var initiator = TestGateway.Start(WithConnectionKeys(TestGateway.InitiatorYaml(), "rekey_time: 2s\nover_time: 30s"), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "child installed");
        uint child = initiator.DataPlane.InstalledSpis().Single();

        var ikeSpis = new HashSet<ulong>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (ikeSpis.Count < 3 && DateTime.UtcNow < deadline)
        {
            var sas = await initiator.Gateway.Supervisor.Ask<List<Akka.Actor.IActorRef>>(Concentrator.Actors.IkeSaSupervisor.GetSas.Instance);
            var info = await sas.Single().Ask<Concentrator.Actors.IkeSaActor.Info>(Concentrator.Actors.IkeSaActor.GetInfo.Instance);
            ikeSpis.Add(info.Spi);
            await Task.Delay(100);
        }

        Assert.True(ikeSpis.Count >= 3, $"at least 2 IKE rekeys within 20 s (saw {ikeSpis.Count - 1})");
        Assert.Equal(child, initiator.DataPlane.InstalledSpis().Single());
        Assert.Equal(1, await responder.Gateway.CountSasAsync());
        Assert.Empty(initiator.Events.Down);
        Assert.Empty(responder.Events.Down);
        LoopbackExchangeTests.AssertEspFlows(initiator.DataPlane, responder.DataPlane, IPAddress.Parse("10.200.1.3"), IPAddress.Parse("10.10.0.3"));
    }

    [Fact]
    public async Task Reauth_time_replaces_the_ike_sa_make_before_break()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: "resp");
        await using var initiator = TestGateway.Start(WithConnectionKeys(TestGateway.InitiatorYaml(), "reauth_time: 2s"), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "child installed");

        // Each reauthentication is a new IKE_SA_INIT + IKE_AUTH (a new IkeSaUp) followed by the Delete of the old SA.
        await Eventually.TrueAsync(() => initiator.Events.Up.Count >= 3 && initiator.Events.Down.Count >= 2, "two reauthentications", seconds: 25);
        Assert.All(initiator.Events.Down, d => Assert.Equal(CloseReason.Deleted, d.Reason));
        Assert.All(responder.Events.Down, d => Assert.Equal(CloseReason.DeletedByPeer, d.Reason));
        // No INITIAL_CONTACT on a reauthentication: the responder deleted old SAs by Delete only, never "replaced" them.
        Assert.DoesNotContain(responder.Events.Down, d => d.Reason == CloseReason.Replaced);
        await Eventually.TrueAsync(async () => await initiator.Gateway.CountSasAsync() == 1 && await responder.Gateway.CountSasAsync() == 1
            && initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "one IKE SA and one child again");
        LoopbackExchangeTests.AssertEspFlows(initiator.DataPlane, responder.DataPlane, IPAddress.Parse("10.200.1.3"), IPAddress.Parse("10.10.0.3"));
    }
}

using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Actors;

public sealed class SupervisionTests
{
    [Fact]
    public async Task A_fault_in_one_ike_sa_actor_stops_only_that_sa()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: "resp");
        await using var fleet = Concentrator.Simulation.PeerFleet.Start(new Concentrator.Simulation.FleetOptions
        {
            Psk = "test-shared-key-0123456789"u8.ToArray(),
            GatewayId = "gw.test",
        });

        var result = await fleet.EstablishAsync(responder.Endpoint, 3, TimeSpan.FromSeconds(20));
        Assert.Equal(3, result.Established);
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 3, "three children installed");

        var sas = await responder.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance);
        var victim = sas[1];
        var survivors = sas.Where(s => !s.Equals(victim)).ToList();
        var before = await Task.WhenAll(survivors.Select(s => s.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance)));

        victim.Tell(new IkeSaActor.InjectFault("injected by test"));

        await Eventually.TrueAsync(async () => await responder.Gateway.CountSasAsync() == 2, "only the faulty SA is gone");
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 2, "its Child SA left the data plane");
        var after = await Task.WhenAll(survivors.Select(s => s.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance)));
        for (int n = 0; n < survivors.Count; n++)
        {
            Assert.Equal(before[n].Spi, after[n].Spi);
            Assert.Equal(IkeSaState.Established, after[n].State);
            Assert.Equal(before[n].Children.Single().InboundSpi, after[n].Children.Single().InboundSpi);
        }
    }
}

public sealed class ChildSupervisionTests
{
    [Fact]
    public async Task A_fault_in_one_child_sa_actor_deletes_only_that_child_with_the_peer()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: "resp");
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "first child");

        // A second child under the same IKE SA (CREATE_CHILD_SA).
        var sas = await initiator.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance);
        var ike = sas.Single();
        ike.Tell(new IkeSaActor.CreateChildSa(initiator.Config.Connections["site"].Children["net"]));
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 2 && responder.DataPlane.InstalledCount == 2, "second child");

        var info = await ike.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance);
        uint victim = info.Children[0].InboundSpi, survivor = info.Children[1].InboundSpi;
        var childActor = await initiator.Gateway.System.ActorSelection(ike.Path / ChildSaActor.NameFor(victim)).ResolveOne(TimeSpan.FromSeconds(5));
        childActor.Tell(new IkeSaActor.InjectFault("injected by test"));

        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1,
            "the failed child is gone on both sides");
        Assert.Equal(survivor, initiator.DataPlane.InstalledSpis().Single());
        var after = await ike.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance);
        Assert.Equal(IkeSaState.Established, after.State);
        Assert.Equal(survivor, after.Children.Single().InboundSpi);
        Assert.Empty(initiator.Events.Down);
    }
}

using System.Collections.Concurrent;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Microsoft.Extensions.Logging;

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

public sealed class SupervisionLoggingTests
{
    [Fact]
    public async Task A_failed_ike_sa_actor_is_logged_once_with_its_spi()
    {
        var sink = new ExceptionLog();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(sink));
        await using var responder = Gateway.Start(new GatewayOptions
        {
            Config = ConcentratorConfig.Parse(TestGateway.ResponderYaml(), "<resp>"),
            DataPlane = new InMemoryDataPlane(),
            Tunables = TestGateway.FastTunables,
            SystemName = "logresp",
            Loggers = loggers,
        });
        await using var initiator = TestGateway.Start(TestGateway.InitiatorYaml(), name: "loginit");
        initiator.Initiate("site", responder.IkeEndpoint);
        await Eventually.TrueAsync(async () => await responder.CountSasAsync() == 1 && initiator.DataPlane.InstalledCount == 1, "tunnel up");
        var victim = (await responder.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance)).Single();

        victim.Tell(new IkeSaActor.InjectFault("injected by test"));

        await Eventually.TrueAsync(async () => await responder.CountSasAsync() == 0, "the faulty SA is gone");
        await Task.Delay(300); // a second report of the same failure would be logged by now
        var entry = Assert.Single(sink.WithException);
        Assert.Equal(2001, entry.EventId);
        Assert.Contains(victim.Path.Name, entry.Message);
    }

    private sealed class ExceptionLog : ILoggerProvider
    {
        private readonly ConcurrentQueue<(int EventId, string Message)> _entries = new();

        public IReadOnlyList<(int EventId, string Message)> WithException => _entries.ToList();

        public ILogger CreateLogger(string categoryName) => new Logger(_entries);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<(int, string)> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (exception is not null) entries.Enqueue((eventId.Id, formatter(state, exception)));
            }
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

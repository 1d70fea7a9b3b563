using Akka.Actor;
using Concentrator.DataPlane;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Actors;

/// <summary>
/// The Child SAs of one IKEv1 SA in the data plane, the same steps as <see cref="EffectRunner"/>'s install path: added
/// synchronously when quick mode's <see cref="ChildSaEstablished"/> is drained (before the message that lets the peer
/// use it leaves), one <see cref="ChildSaActor"/> per SA for its lifetimes and counters, the supervisor told which actor
/// owns the inbound SPI, and removed when the SA removes it, when its actor stops and when the host stops.
/// Runs on the host actor's thread only.
/// </summary>
internal sealed class V1ChildInstaller(IkeV1Sa sa, ILogger log, Func<IUntypedActorContext> context)
{
    private readonly Dictionary<uint, (IActorRef Actor, ChildSaInstall Install)> _installed = new();
    private readonly Dictionary<IActorRef, uint> _spiOf = new();
    private SaCounters _retired;

    private IDataPlane DataPlane => sa.Context.DataPlane;

    public IReadOnlyList<ChildSaRecord> Records =>
        _installed.Values.Select(c => new ChildSaRecord(c.Install.Child, c.Install.InboundSpi, c.Install.OutboundSpi, c.Install.Suite,
            c.Install.LocalTs, c.Install.RemoteTs, c.Install.Mode)).ToList();

    public void Install(ChildSaInstall install)
    {
        var ctx = context();
        try
        {
            DataPlane.AddSa(install);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
        {
            Log.V1ChildInstallFailed(log, ex, $"{sa.OurCookie:x16}", install.Connection, install.Child);
            sa.DeleteChild(install.InboundSpi);
            return;
        }
        var lifetime = sa.Connection is { } conn && conn.Children.TryGetValue(install.Child, out var config) ? ChildLifetime.From(config) : ChildLifetime.None;
        lifetime = V1QuickModeHost.Apply(lifetime, sa.TakeNegotiatedChildLife(install.InboundSpi)); // v1quick hook
        var schedule = IkeLifetimes.ForChild(lifetime, TimeSpan.Zero, Random.Shared);
        var child = ctx.ActorOf(ChildSaActor.Props(install, DataPlane, lifetime, schedule: schedule), ChildSaActor.NameFor(install.InboundSpi));
        ctx.Watch(child);
        _installed[install.InboundSpi] = (child, install);
        _spiOf[child] = install.InboundSpi;
        ctx.Parent.Tell(new IkeSaSupervisor.ChildInstalled(install.InboundSpi));
        sa.Context.Metrics.ChildSaInstalled(install.Connection, install.Child);
        if (log.IsEnabled(LogLevel.Debug))
        {
            Log.ChildSaInstalled(log, install.Connection, install.Child, $"{install.InboundSpi:x8}", $"{install.OutboundSpi:x8}",
                $"{install.Suite.Encryption}-{install.Suite.KeyBits}", string.Join(',', install.LocalTs), string.Join(',', install.RemoteTs));
        }
    }

    /// <summary>A rekeyed SA retires through its actor's grace (as IKEv2's); any other goes now.</summary>
    public void Remove(ChildSaRemoved removed)
    {
        if (!_installed.TryGetValue(removed.InboundSpi, out var child)) return;
        if (removed.Rekeyed)
        {
            child.Actor.Tell(ChildSaActor.Retire.Instance);
            return;
        }
        Uninstall(removed.InboundSpi);
        context().Stop(child.Actor);
    }

    public void OnChildTerminated(IActorRef child)
    {
        if (_spiOf.Remove(child, out uint spi)) Uninstall(spi);
    }

    public void UninstallAll()
    {
        foreach (var spi in _installed.Keys.ToList()) Uninstall(spi);
    }

    public SaCounters Traffic()
    {
        var total = _retired;
        foreach (var spi in _installed.Keys)
        {
            if (DataPlane.TryGetCounters(spi, out var c)) total = Sum(total, c);
        }
        return total;
    }

    private void Uninstall(uint spi)
    {
        if (!_installed.Remove(spi, out var child)) return;
        _spiOf.Remove(child.Actor);
        DataPlane.FlushCounters(spi);
        if (DataPlane.TryGetCounters(spi, out var counters)) _retired = Sum(_retired, counters);
        DataPlane.DeleteSa(spi);
        context().Parent.Tell(new IkeSaSupervisor.ChildUninstalled(spi));
        sa.Context.Metrics.ChildSaRemoved(child.Install.Connection, child.Install.Child);
        if (log.IsEnabled(LogLevel.Debug)) Log.ChildSaRemoved(log, child.Install.Connection, child.Install.Child, $"{spi:x8}");
    }

    private static SaCounters Sum(SaCounters a, SaCounters b) => EffectRunner.Sum(a, b);
}

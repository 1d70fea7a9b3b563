using Akka.Actor;
using Concentrator.DataPlane;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Transport;

namespace Concentrator.Actors;

/// <summary>
/// Carries out the effects of one tunnel's IKE SAs inside their <see cref="IkeSaActor"/>, one method per effect, in the
/// order the SA emitted them. It is the one owner of the tunnel's Child SAs in the data plane: it adds each when its
/// <see cref="ChildSaEstablished"/> is handled (synchronously, so the SA is installed before the response that lets the
/// peer use it leaves), activates successors, and removes each when the SA removes it, when its
/// <see cref="ChildSaActor"/> stops (the rekeyed SA's inbound grace ended, or the actor failed) and when the IKE SA
/// actor stops. Runs on the actor's thread only.
/// </summary>
internal sealed class EffectRunner(IkeSaActor actor, IkeSaLineage lineage, IIkeSender sender, ILogger log, ISaReplication? replication)
{
    // The tunnel's installed Child SAs by inbound SPI, with the actor that keeps their lifetimes.
    private readonly Dictionary<uint, InstalledChild> _installed = new();
    private readonly Dictionary<IActorRef, uint> _spiOfChild = new();
    // Children with an updown script by (child, selectors): how many of their SAs are installed (a rekey's successor
    // overlaps its predecessor), so the script sees one up when the first arrives and one down when the last leaves.
    private readonly Dictionary<string, UpdownHold> _updown = new();
    private static long _lastReqid;
    private long _publishedVersion = long.MinValue;

    /// <summary>The current SA was established (negotiated here or adopted).</summary>
    public bool Established { get; private set; }

    /// <summary>Stopped without a Delete (released, handed off or fenced): the replica entry is no longer ours to remove.</summary>
    public bool Silent { get; set; }

    private IkeSa Current => lineage.Current;
    private IUntypedActorContext Context => actor.ActorContext;
    private IDataPlane DataPlane => Current.Context.DataPlane;

    /// <summary>Carries out every effect <paramref name="sa"/> produced, then replicates the current SA if it changed.</summary>
    public void Drain(IkeSa sa)
    {
        foreach (var effect in sa.DrainEffects())
        {
            switch (effect)
            {
                case SendMessage send: sender.Send(send.Datagram, send.Remote, send.NatT); break;
                case ScheduleRetransmit schedule: actor.ScheduleRetransmit(sa, schedule.Delay); break;
                case CancelRetransmit: actor.CancelRetransmit(sa); break;
                case IkeSaRekeyed rekeyed: OnRekeyed(sa, rekeyed.Successor); break;
                case IkeSaRedundant redundant: OnRedundant(redundant.Sa); break;
                case IkeSaEstablished up: OnEstablished(up); break;
                case IkeSaRestored restored: OnRestored(restored); break;
                case ChildSaEstablished child: Install(child.Install); break;
                case ChildSaActivated activated: DataPlane.ActivateOutbound(activated.InboundSpi); break;
                case ChildSaRemoved removed: OnChildRemoved(removed); break;
                case PeerMoved moved: OnPeerMoved(moved); break;
                case PeerAuthFailed failed:
                    Log.PeerAuthFailed(log, $"{sa.OurSpi:x16}", sa.RemoteEndpoint, failed.PeerId, failed.Reason, failed.Detail);
                    break;
                case FetchRevocation fetch: actor.FetchRevocation(sa, fetch.Fetch); break;
                case CheckUniqueness check:
                    // The supervisor keeps every SA's user; it answers IkeSaActor.UniqueChecked, which resumes the IKE_AUTH.
                    Context.Parent.Tell(new IkeSaSupervisor.CheckUnique(sa.OurSpi, check.Policy, check.Connection, check.LocalId, check.User,
                        sa.RemoteEndpoint));
                    break;
                case RunEap eap: actor.RunEap(sa, eap); break;
                case RevocationUnverified unverified:
                    Log.RevocationUnverified(log, $"{sa.OurSpi:x16}", sa.RemoteEndpoint, unverified.PeerId, unverified.Detail);
                    break;
                case ChildlessMismatched mismatch:
                    Log.ChildlessMismatch(log, $"{sa.OurSpi:x16}", sa.Connection?.Name ?? "", sa.RemoteEndpoint, mismatch.Detail);
                    break;
                case IkeSaClosed closed: OnClosed(sa, closed); break;
            }
        }

        if (sa == Current)
        {
            actor.ReportChildrenUp();
            Publish();
        }
    }

    private void OnRekeyed(IkeSa predecessor, IkeSa successor)
    {
        lineage.Rekeyed(predecessor, successor);
        Context.Parent.Tell(new IkeSaSupervisor.Rekeyed(successor.OurSpi));
        // The successor carries the children now; the predecessor's entry would point their ESP at it.
        replication?.Remove(predecessor.OurSpi);
        _publishedVersion = long.MinValue; // the successor's StateVersion counts from its own start
        Log.IkeSaRekeyed(log, $"{predecessor.OurSpi:x16}", $"{successor.OurSpi:x16}", successor.Connection?.Name ?? "");
        actor.StartIkeLifetime();
        Drain(successor);
    }

    /// <summary>The loser of a simultaneous IKE rekey: routed here until its Delete completes, then retired.</summary>
    private void OnRedundant(IkeSa redundant)
    {
        lineage.AddRedundant(redundant);
        Context.Parent.Tell(new IkeSaSupervisor.Rekeyed(redundant.OurSpi));
        Drain(redundant);
    }

    private void OnEstablished(IkeSaEstablished up)
    {
        var sa = Current;
        Established = true;
        if (log.IsEnabled(LogLevel.Debug))
        {
            Log.IkeSaEstablished(log, $"{sa.OurSpi:x16}", up.Connection, sa.RemoteEndpoint, up.RemoteId, sa.IsInitiator ? "initiator" : "responder",
                up.Summary.Proposal, up.Summary.SetupTime.TotalMilliseconds, up.Summary.NatDetected);
        }
        if (sa.EapIdentity is { } eapId) Log.EapLogin(log, $"{sa.OurSpi:x16}", sa.RemoteEndpoint, up.RemoteId, eapId.Text, sa.LoginMethod ?? "eap");
        Context.Parent.Tell(EstablishedOf(sa, up.Connection, sa.InitialContact));
        actor.StartEstablishedTimers(waitForChildren: sa.IsInitiator && sa.InitialChildrenPending);
        var vips = sa.VirtualIps.All.Select(v => v.Address).ToList();
        LogVirtualIps(sa, up);
        _establishedSpi = sa.OurSpi;
        Context.System.EventStream.Publish(new IkeSaUp(sa.OurSpi, sa.IsInitiator, up.Connection, sa.RemoteEndpoint, up.Summary, vips, Context.Self));
    }

    private static IkeSaSupervisor.Established EstablishedOf(IkeSa sa, string connection, bool initialContact) =>
        new(sa.OurSpi, connection, sa.RemoteId?.Text ?? "", initialContact, sa.LocalId?.Text ?? "", sa.User?.Text ?? "", sa.RemoteEndpoint,
            sa.Connection?.Unique ?? Ike.Connections.UniquePolicy.No);

    /// <summary>What the configuration payload gave (or could not give) the tunnel.</summary>
    private void LogVirtualIps(IkeSa sa, IkeSaEstablished up)
    {
        var v = sa.VirtualIps;
        if (v.Failed)
        {
            var pools = sa.Connection?.Pools ?? [];
            Log.VirtualIpFailed(log, $"{sa.OurSpi:x16}", up.Connection, up.RemoteId, pools.Count == 0 ? "none" : string.Join(',', pools),
                pools.Count == 0 ? "the peer asked for an address, INTERNAL_ADDRESS_FAILURE" : "exhausted or not asked for");
            return;
        }
        if (v.All.Count == 0) return;
        string source = sa.IsInitiator
            ? "assigned by the peer" + (v.DnsServers.Count > 0 ? ", DNS " + string.Join(',', v.DnsServers) : "")
            : "leased from " + string.Join(',', v.All.Select(x => x.Pool).Distinct());
        Log.VirtualIps(log, $"{sa.OurSpi:x16}", up.Connection, string.Join(',', v.All), up.RemoteId, source);
    }

    /// <summary>Adopted from another node: established already, so no negotiation is counted; its timers start here, its
    /// lifetimes counted from when it was negotiated.</summary>
    private void OnRestored(IkeSaRestored restored)
    {
        Established = true;
        actor.ChildrenUpSent = true;
        Context.Parent.Tell(EstablishedOf(Current, restored.Connection, initialContact: false));
        actor.StartEstablishedTimers(waitForChildren: false);
    }

    /// <summary>
    /// Installs a negotiated (or adopted) Child SA in the data plane and starts the actor of its lifetimes. An adopted SA's
    /// children keep the peer's view of them; only our end of the ESP flow is this node's.
    /// </summary>
    private void Install(ChildSaInstall negotiated)
    {
        var sa = Current;
        var install = negotiated.LocalEndpoint.Equals(sa.LocalEndpoint) ? negotiated : negotiated with { LocalEndpoint = sa.LocalEndpoint };
        try
        {
            DataPlane.AddSa(install);
            // In a cluster, replicas of this SA may hold its starting mark (0, or the mark it was adopted at): until a later
            // mark is everywhere, this node stays within the margin an adopter skips (RaiseCeilings).
            if (replication is not null) DataPlane.SetOutboundCeiling(install.InboundSpi, Past(install.OutboundSequenceStart, actor.SequenceMargin));
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
        {
            Log.IkeSaActorFailed(log, ex, $"{sa.OurSpi:x16}");
            sa.DeleteChild(install.InboundSpi);
            return;
        }

        var lifetime = sa.Connection is { } conn && conn.Children.TryGetValue(install.Child, out var childConfig)
            ? ChildLifetime.From(childConfig)
            : ChildLifetime.None;
        var age = DateTime.UtcNow - sa.ChildCreatedUtc(install.InboundSpi);
        var schedule = IkeLifetimes.ForChild(lifetime, age, Random.Shared);
        var child = Context.ActorOf(ChildSaActor.Props(install, DataPlane, lifetime,
            sequenceReportStep: replication is null ? 0 : actor.SequenceMargin / 2, age: age, schedule: schedule),
            ChildSaActor.NameFor(install.InboundSpi));
        Context.Watch(child);
        _installed[install.InboundSpi] = new InstalledChild(child, install.Connection, install.Child, UpdownUp(sa, install),
            DateTime.UtcNow + schedule.Rekey, DateTime.UtcNow + schedule.Expire);
        // The supervisor routes the data plane's reports about this SPI (its peer's ESP from a new address) here.
        Context.Parent.Tell(new IkeSaSupervisor.ChildInstalled(install.InboundSpi));
        _spiOfChild[child] = install.InboundSpi;
        sa.Context.Metrics.ChildSaInstalled(install.Connection, install.Child);
        if (log.IsEnabled(LogLevel.Debug))
        {
            Log.ChildSaInstalled(log, install.Connection, install.Child, $"{install.InboundSpi:x8}", $"{install.OutboundSpi:x8}",
                $"{install.Suite.Encryption}-{install.Suite.KeyBits}", string.Join(',', install.LocalTs.Select(Format)),
                string.Join(',', install.RemoteTs.Select(Format)));
        }
        if (install.Mode == IpsecMode.Transport) Log.ChildSaTransportMode(log, install.Connection, install.Child, $"{install.InboundSpi:x8}");
    }

    /// <summary>
    /// The peer moved (RFC 7296 §2.23): every Child SA of the tunnel in the data plane sends there from now on, those
    /// lingering after a rekey included (the IKE SA replicates the new endpoint with its next snapshot).
    /// </summary>
    private void OnPeerMoved(PeerMoved moved)
    {
        foreach (var spi in _installed.Keys) DataPlane.UpdateRemote(spi, moved.Remote);
        if (moved.Trigger == PeerMoveTrigger.Mobike)
        {
            Log.MobikeMoved(log, $"{Current.OurSpi:x16}", moved.From, moved.Remote, Current.NatDetected, _installed.Count);
            return;
        }
        Log.PeerMoved(log, $"{Current.OurSpi:x16}", moved.From, moved.Remote, moved.Trigger == PeerMoveTrigger.Esp ? "ESP" : "IKE", _installed.Count);
    }

    /// <summary>
    /// A rekeyed SA lingers for a short grace (its successor is newer and wins the outbound lookup), like strongSwan's
    /// delete_rekeyed_delay, so ESP the peer sent on it just before the switch is not dropped; any other SA goes now.
    /// </summary>
    private void OnChildRemoved(ChildSaRemoved removed)
    {
        if (!_installed.TryGetValue(removed.InboundSpi, out var child)) return;
        if (removed.Rekeyed)
        {
            child.Actor.Tell(ChildSaActor.Retire.Instance);
            return;
        }
        Uninstall(removed.InboundSpi);
        Context.Stop(child.Actor);
    }

    private void OnClosed(IkeSa sa, IkeSaClosed closed)
    {
        if (lineage.Retire(sa))
        {
            // A rekeyed predecessor finished its Delete; the tunnel lives on in the successor.
            Context.Parent.Tell(new IkeSaSupervisor.Retired(sa.OurSpi));
            sa.Dispose();
            return;
        }

        var current = Current;
        Log.IkeSaClosed(log, $"{current.OurSpi:x16}", current.Connection?.Name ?? "", current.RemoteEndpoint, closed.Reason,
            Established ? "established" : "connecting");
        Context.System.EventStream.Publish(new IkeSaDown(current.OurSpi, current.IsInitiator, current.Connection?.Name ?? "", closed.Reason,
            Established, _establishedSpi, Traffic()));
        if (closed.Reason == CloseReason.Timeout && Established) actor.DeadPeerAction();
        Context.Stop(Context.Self);
    }

    /// <summary>
    /// A child's actor stopped: its SA leaves the data plane if it is still there (its grace ended, or the actor failed).
    /// If the IKE SA still lists the child (the actor failed), the peer is told with a Delete so both ends agree;
    /// siblings are untouched.
    /// </summary>
    public void OnChildTerminated(IActorRef child)
    {
        if (!_spiOfChild.Remove(child, out uint spi)) return;
        Uninstall(spi);
        if (Current.ChildTable.Find(spi) is null) return;
        Current.DeleteChild(spi);
        Drain(Current);
    }

    /// <summary>The IKE SA actor stops: every Child SA still installed leaves the data plane (keys zeroed there).</summary>
    public void UninstallAll()
    {
        foreach (var spi in _installed.Keys.ToList()) Uninstall(spi);
    }

    // The SA's SPI when it was established, and the totals of its children that left the data plane (the plane forgets an
    // SA's counters with it): together with the installed ones, what RADIUS accounting reports for the whole IKE SA.
    private ulong _establishedSpi;
    private SaCounters _retiredTraffic;

    /// <summary>Packets and bytes of every Child SA this IKE SA has had, the installed ones read now.</summary>
    public SaCounters Traffic()
    {
        var total = _retiredTraffic;
        foreach (var spi in _installed.Keys)
        {
            if (DataPlane.TryGetCounters(spi, out var c)) total = Sum(total, c);
        }
        return total;
    }

    internal static SaCounters Sum(SaCounters a, SaCounters b) =>
        new(a.PacketsIn + b.PacketsIn, a.BytesIn + b.BytesIn, a.PacketsOut + b.PacketsOut, a.BytesOut + b.BytesOut,
            Math.Max(a.LastInboundTicks, b.LastInboundTicks), Math.Max(a.LastOutboundTicks, b.LastOutboundTicks));

    private void Uninstall(uint spi)
    {
        if (!_installed.Remove(spi, out var child)) return;
        DataPlane.FlushCounters(spi);
        if (DataPlane.TryGetCounters(spi, out var counters)) _retiredTraffic = Sum(_retiredTraffic, counters);
        DataPlane.DeleteSa(spi);
        Context.Parent.Tell(new IkeSaSupervisor.ChildUninstalled(spi));
        Current.Context.Metrics.ChildSaRemoved(child.Connection, child.Child);
        if (log.IsEnabled(LogLevel.Debug)) Log.ChildSaRemoved(log, child.Connection, child.Child, $"{spi:x8}");
        if (child.UpdownKey is { } key) UpdownDown(key);
    }

    /// <summary>The child's updown script, if it has one, learns of the first SA of its child and selectors; returns the
    /// key the SA holds (null without a script).</summary>
    private string? UpdownUp(IkeSa sa, ChildSaInstall install)
    {
        if (sa.Connection is not { } conn || !conn.Children.TryGetValue(install.Child, out var config) || config.Updown is not { } script) return null;
        string key = $"{install.Child}|{string.Join(',', install.LocalTs.Select(Format))}|{string.Join(',', install.RemoteTs.Select(Format))}";
        if (_updown.TryGetValue(key, out var hold))
        {
            hold.Count++;
            return key;
        }
        hold = new UpdownHold(script, config.Name, install.LocalTs, install.RemoteTs, (uint)Interlocked.Increment(ref _lastReqid)) { Count = 1 };
        _updown[key] = hold;
        PublishUpdown(key, hold, up: true);
        return key;
    }

    private void UpdownDown(string key)
    {
        if (!_updown.TryGetValue(key, out var hold) || --hold.Count > 0) return;
        _updown.Remove(key);
        PublishUpdown(key, hold, up: false);
    }

    private void PublishUpdown(string key, UpdownHold hold, bool up)
    {
        var sa = Current;
        var invocations = new List<IReadOnlyList<KeyValuePair<string, string>>>();
        foreach (var local in hold.LocalTs)
        {
            foreach (var remote in hold.RemoteTs)
            {
                var env = UpdownEnvironment.For(sa, actor.UniqueId, hold.Reqid, hold.Child, up, local, remote);
                // A closing SA has released its virtual IPs before its children leave: down names the ones up named.
                if (up) hold.SourceIps = env.Where(e => e.Key.Contains("_SOURCEIP", StringComparison.Ordinal)).ToList();
                else if (!env.Any(e => e.Key.Contains("_SOURCEIP", StringComparison.Ordinal))) env.AddRange(hold.SourceIps);
                invocations.Add(env);
            }
        }
        Context.System.EventStream.Publish(new ChildUpdown(hold.Script, up, $"{Context.Self.Path}|{key}", sa.Connection?.Name ?? "", hold.Child,
            invocations));
    }

    /// <summary>
    /// Replicates the established SA whenever anything a snapshot holds changed (an exchange completed, a child came or
    /// went, a rekey) or a child used half the sequence margin; half-open SAs are not replicated (a flood of
    /// IKE_SA_INIT must not become cluster writes), they move only by a direct release.
    /// </summary>
    public void Publish(bool released = false)
    {
        var sa = Current;
        if (replication is null || Silent || sa.State != IkeSaState.Established) return;
        if (!released && sa.StateVersion == _publishedVersion) return;
        if (replication.Publish(sa, released, Context.Self)) _publishedVersion = sa.StateVersion;
    }

    /// <summary>
    /// Every member holds these marks now: an adopter starts above mark + margin, so this node may go up to it, and no
    /// further, until the next snapshot is everywhere.
    /// </summary>
    public void RaiseCeilings(IReadOnlyList<(uint InboundSpi, ulong OutboundMark)> marks)
    {
        foreach (var (spi, mark) in marks)
        {
            if (_installed.ContainsKey(spi)) DataPlane.SetOutboundCeiling(spi, Past(mark, actor.SequenceMargin));
        }
    }

    private static ulong Past(ulong mark, ulong margin) => mark > ulong.MaxValue - margin ? ulong.MaxValue : mark + margin;

    /// <summary>Forgets publication so the next <see cref="Publish"/> writes (a second member came Up).</summary>
    public void Republish()
    {
        _publishedVersion = long.MinValue;
        Publish();
    }

    private static string Format(TrafficSelector ts) =>
        ts.StartAddress.Equals(ts.EndAddress) ? ts.StartAddress.ToString() : $"{ts.StartAddress}-{ts.EndAddress}";

    /// <param name="RekeyAt">When its rekey timer fires (a rekey it asks for later, by volume or a failed try, is not shown).</param>
    private sealed record InstalledChild(IActorRef Actor, string Connection, string Child, string? UpdownKey, DateTime? RekeyAt, DateTime? ExpireAt);

    /// <summary>The timers of an installed child as the operator sees them; false when it is not in the data plane (any more).</summary>
    public bool TryGetChildTimers(uint inboundSpi, out DateTime? rekeyAt, out DateTime? expireAt)
    {
        rekeyAt = expireAt = null;
        if (!_installed.TryGetValue(inboundSpi, out var c)) return false;
        (rekeyAt, expireAt) = (c.RekeyAt, c.ExpireAt);
        return true;
    }

    private sealed class UpdownHold(string script, string child, IReadOnlyList<TrafficSelector> localTs, IReadOnlyList<TrafficSelector> remoteTs, uint reqid)
    {
        public string Script { get; } = script;
        public string Child { get; } = child;
        public IReadOnlyList<TrafficSelector> LocalTs { get; } = localTs;
        public IReadOnlyList<TrafficSelector> RemoteTs { get; } = remoteTs;
        public uint Reqid { get; } = reqid;
        public int Count { get; set; }
        public List<KeyValuePair<string, string>> SourceIps { get; set; } = [];
    }
}

using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Concentrator.Actors;
using Concentrator.Cluster.Membership;
using Concentrator.Cluster.Replication;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Eap;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Radius;
using Concentrator.Telemetry;
using Concentrator.Transport;

namespace Concentrator.Hosting;

/// <summary>Everything a gateway is built from; tests and the demo fill it without a config file.</summary>
public sealed record GatewayOptions
{
    public required ConcentratorConfig Config { get; init; }
    public required IDataPlane DataPlane { get; init; }
    public IConnectionResolver? Resolver { get; init; }
    public ILoggerFactory Loggers { get; init; } = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
    /// <summary>Null: from the config's <c>charon:</c> section.</summary>
    public IkeTunables? Tunables { get; init; }

    /// <summary>Null: from the config's <c>charon:</c> section.</summary>
    public AdmissionOptions? Admission { get; init; }
    public string SystemName { get; init; } = "concentrator";

    /// <summary>This node's metric families; by default a fresh registry with the .NET runtime collectors.</summary>
    public ConcentratorMetrics? Metrics { get; init; }

    /// <summary>Null: a local actor system without remoting (in-process tests, the simulated peer fleet), ready as soon
    /// as its sockets are bound. Set: this node joins an Akka cluster (<c>run</c>, <c>demo</c>) and is ready once Up.</summary>
    public ClusterConfig? Cluster { get; init; }

    /// <summary>How long an offline lease is kept for its identity before another may get it; null: the default
    /// (<see cref="AddressPools.DefaultReuseDelay"/>). Tests shorten it.</summary>
    public TimeSpan? LeaseReuseDelay { get; init; }

    /// <summary>In a cluster, how long addresses a membership change gave this node wait before it leases them fresh;
    /// null: <see cref="ClusterLeases.DefaultSettleTime"/>. Tests shorten it.</summary>
    public TimeSpan? LeaseSettleTime { get; init; }
}

/// <summary>
/// Composition root of one concentrator node: the ActorSystem with its IKE SA supervisor, the UDP
/// sockets of every listen address, and the data plane behind <see cref="IDataPlane"/>.
/// </summary>
public sealed class Gateway : IAsyncDisposable
{
    private const string Hocon = """
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          log-dead-letters = 0
          log-dead-letters-during-shutdown = off
          actor.ask-timeout = 10s
        }
        """;

    private readonly List<UdpIkeTransport> _transports = new();
    private readonly IHost _host;
    private readonly ILogger _log;
    private volatile bool _started;
    private volatile bool _disposed;

    private Gateway(GatewayOptions options)
    {
        Options = options;
        _log = options.Loggers.CreateLogger("Concentrator.Gateway");
        Metrics = options.Metrics ?? new ConcentratorMetrics(runtimeCollectors: true);
        Metrics.BindConfig(options.Config);
        Metrics.Limits.AttachLogger(options.Loggers.CreateLogger("Concentrator.Limits"));
        var limits = options.Config.Charon.ToLimits();
        (options.DataPlane as IDataPlaneMetricsSource)?.AttachMetrics(Metrics.DataPlane);
        Pools = new AddressPools(options.Config.Pools.Values, options.LeaseReuseDelay);
        _config = options.Config;
        ConfigResolver = options.Resolver is null ? new ConfigConnectionResolver(options.Config) : null;
        var resolver = options.Resolver ?? ConfigResolver!;
        var radiusLog = options.Loggers.CreateLogger("Concentrator.Radius");
        var logins = new RadiusLogins(Metrics.Node);
        Radius = options.Config.Charon.EapRadius is { } eapRadius ? new RadiusClient(eapRadius.ToRadiusOptions(), Metrics.Radius, radiusLog) : null;
        var context = new IkeSaContext
        {
            Resolver = resolver,
            EapSessions = new EapSessionFactory(resolver, Radius is null ? null : new RadiusEapSessionFactory(Radius, logins, radiusLog)),
            DataPlane = options.DataPlane,
            Tunables = options.Tunables ?? options.Config.Charon.ToTunables(),
            NattPort = options.Config.Listen.NattPort == 0 ? UdpEncapsulation.NatTraversalPort : options.Config.Listen.NattPort,
            Metrics = Metrics,
            Limits = limits,
            Pools = Pools,
        };

        var sender = new TransportSet(_transports);
        var admission = options.Admission ?? options.Config.Charon.ToAdmission();
        var gate = new InitGate(admission.InitJobLoad);
        // A cluster node replicates its SAs and adopts those whose peers' traffic moves here (Cluster/Replication/SaMobilityActor).
        var replicas = Replicas = options.Cluster is null ? null : new SaReplicaIndex();
        var ikeLog = options.Loggers.CreateLogger("Concentrator.Ike");
        _host = StartActorSystem(options, (system, registry) =>
            registry.Register<IkeSaSupervisor>(system.ActorOf(IkeSaSupervisor.Props(context, sender, ikeLog, admission, gate,
                replicas is null ? null : new ClusterMobility(replicas, context, ikeLog, SaReplicaActor.SelfOwner(system))), "ike")));
        System = _host.Services.GetRequiredService<ActorSystem>();
        // Leases unique across the cluster: this node's share of each pool, and the leases of other nodes' SAs. A one-node
        // cluster by configuration (no seed nodes, no discovery) never has another member and leases from its whole pools.
        if (replicas is not null && options.Cluster is { } clustered && (clustered.SeedNodes.Count > 0 || clustered.Discovery != "none"))
        {
            Pools.Coordinator = ClusterLeases.ForNode(System, replicas, options.LeaseSettleTime);
        }
        Updown = new UpdownRunner(options.Loggers.CreateLogger("Concentrator.Updown"), Metrics.Users);
        Updown.Attach(System);
        Supervisor = _host.Services.GetRequiredService<IReadOnlyActorRegistry>().Get<IkeSaSupervisor>();
        if (Radius is { Options.Accounting: true })
        {
            Accounting = new RadiusAccounting(Radius, logins, Metrics.Radius, radiusLog);
            Accounting.Attach(System);
        }
        Ingress = new IkeIngress(Supervisor, gate, Metrics, limits.MaxPacket);
        try
        {
            if (replicas is not null && options.DataPlane is IUnknownSpiSource unknown)
            {
                var ike = Supervisor;
                var limiter = new SpiReportLimiter();
                // Looked up on the packet thread (no allocation): forged SPIs, which no replica knows, never reach an actor
                // nor spend the limiter's budget. The copy (a few a second per SPI) is what must authenticate before a move.
                unknown.OnUnknownSpi((spi, packet) =>
                {
                    if (replicas.TryGetIkeSpiOfEsp(spi, out var ikeSpi) && limiter.TryReport(spi)) ike.Tell(new IkeSaSupervisor.EspMiss(ikeSpi, packet.ToArray()));
                });
            }
            if (options.DataPlane is IPeerMovedSource moved)
            {
                var ike = Supervisor;
                // Rate-limited by the plane; only ESP that authenticated and advanced its replay window gets here.
                moved.OnPeerMoved((spi, from) => ike.Tell(new IkeSaSupervisor.EspPeerMoved(spi, from)));
            }
            foreach (var address in options.Config.Listen.Addresses)
            {
                // A data plane that owns the NAT-T port (the Linux plane) sends for the first listen address of each family it
                // serves; the IKE it receives there reaches Ingress from the plane itself, never through a transport.
                var plane = options.DataPlane as INattPortSender;
                bool planeOwnsNatt = plane is not null && plane.ServesNattPort(address.AddressFamily) &&
                    !_transports.Exists(t => t.NattPortShared && t.Address.AddressFamily == address.AddressFamily);
                var transport = new UdpIkeTransport(address, options.Config.Listen.IkePort, options.Config.Listen.NattPort, Ingress, Metrics,
                    planeOwnsNatt ? plane : null,
                    (options.DataPlane as INattPortSender)?.SocketMark ?? 0);
                _transports.Add(transport);
                Log.Listening(_log, transport.IkeEndpoint, new IPEndPoint(address, transport.NattPort));
            }
        }
        catch
        {
            // A listen address that cannot be bound (the usual start failure) must not leave the system and its
            // remoting port behind: a test, or a supervisor restarting the process in place, would find them taken.
            foreach (var t in _transports) t.Dispose();
            System.Terminate().Wait(TimeSpan.FromSeconds(10));
            _host.Dispose();
            throw;
        }

        Metrics.Registry.AddBeforeCollectCallback(() =>
        {
            Metrics.SetReady(Ready);
            if (Replicas is { } r) Metrics.SetReplicatedSas(r.Count);
            foreach (var u in Pools.Usage()) Metrics.SetPoolUsage(u.Pool, u.Size, u.InUse, u.Offline, u.Free);
        });
    }

    /// <summary>
    /// The ActorSystem through Akka.Hosting, in a host of its own: HOCON, the cluster settings and TLS, Akka's logging
    /// into <see cref="GatewayOptions.Loggers"/>, and the IKE SA supervisor in the actor registry. The host does not
    /// listen for signals: <c>run</c> handles SIGTERM itself, because SAs are handed off before the node leaves.
    /// </summary>
    private static IHost StartActorSystem(GatewayOptions options, Action<ActorSystem, IActorRegistry> actors)
    {
        var clustered = options.Cluster is { } cluster ? ConfigureCluster(cluster) : null;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddLogging();
        builder.Services.AddSingleton(options.Loggers);
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        builder.Services.AddAkka(options.SystemName, akka =>
        {
            akka.AddHocon(ConfigurationFactory.ParseString(Hocon), HoconAddMode.Append)
                .ConfigureLoggers(l =>
                {
                    l.LogLevel = Akka.Event.LogLevel.WarningLevel;
                    l.ClearLoggers();
                    l.AddLoggerFactory(options.Loggers);
                });
            clustered?.Invoke(akka);
            akka.WithActors(actors);
        });
        var host = builder.Build();
        try
        {
            // Off the caller's synchronization context: constructors of gateways run inside test frameworks' contexts too.
            Task.Run(() => host.StartAsync()).GetAwaiter().GetResult();
            // Akka.Hosting logs a failed start and stops the host; resolving the system again throws the cause here.
            host.Services.GetRequiredService<ActorSystem>();
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Cluster settings, TLS material and the serializer of the messages that cross remoting; TLS that cannot be
    /// used is a configuration error naming its key.</summary>
    private static Action<AkkaConfigurationBuilder> ConfigureCluster(ClusterConfig cluster)
    {
        try
        {
            var node = ClusterNode.Configure(cluster);
            var messages = ConfigurationFactory.ParseString(ClusterMessageSerializer.Hocon);
            return akka =>
            {
                node(akka);
                akka.AddHocon(messages, HoconAddMode.Prepend);
            };
        }
        catch (ClusterTlsException e)
        {
            throw new ConfigException(cluster.Source, e.KeyPath, e.Message);
        }
    }

    /// <summary>The host's lifetime without the console lifetime's SIGTERM/SIGINT handlers.</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    public GatewayOptions Options { get; }

    private volatile ConcentratorConfig _config;
    private ConfigReloader? _reloader;

    /// <summary>The configuration in force: <see cref="GatewayOptions.Config"/> until a reload replaces it.</summary>
    public ConcentratorConfig Config => _config;

    /// <summary>The resolver a reload swaps; null when <see cref="GatewayOptions.Resolver"/> was given (no config file behind it).</summary>
    internal ConfigConnectionResolver? ConfigResolver { get; }

    /// <summary>
    /// Re-reads the file this gateway was started with (<see cref="ConcentratorConfig.Source"/>) and applies it as
    /// <see cref="ConfigReloader"/> describes; a file that does not load, or changes a restart-only key, changes nothing.
    /// </summary>
    public Task<ReloadResult> ReloadAsync() =>
        LazyInitializer.EnsureInitialized(ref _reloader, () => new ConfigReloader(this, Options.Loggers.CreateLogger("Concentrator.Reload")))
            .ReloadAsync();

    /// <summary>The swap itself (<see cref="ConfigReloader"/> only): pools first, so connections that name a new pool find it,
    /// then the resolver, from which every new IKE_SA_INIT takes its candidates, secrets and trust.</summary>
    internal (IReadOnlyList<string> Added, IReadOnlyList<string> Removed, IReadOnlyList<string> Changed) SwapConfig(ConcentratorConfig next)
    {
        var pools = Pools.Replace(next.Pools.Values);
        ConfigResolver!.Replace(next);
        _config = next;
        Metrics.BindConfig(next);
        return pools;
    }
    public ActorSystem System { get; }
    public IActorRef Supervisor { get; }
    public ConcentratorMetrics Metrics { get; }

    /// <summary>Runs the children's updown scripts.</summary>
    public UpdownRunner Updown { get; }

    /// <summary>charon.plugins.eap-radius's client; null when not configured.</summary>
    public RadiusClient? Radius { get; }

    /// <summary>RADIUS accounting (charon.plugins.eap-radius.accounting); null when off.</summary>
    public RadiusAccounting? Accounting { get; }

    private static readonly TimeSpan AccountingDrainTimeout = TimeSpan.FromSeconds(5);
    public IReadOnlyList<UdpIkeTransport> Transports => _transports;

    /// <summary>This node's virtual IP pools and their leases (swanctl pools).</summary>
    public AddressPools Pools { get; }

    /// <summary>Where every receive loop of this node puts its IKE datagrams: the transports' and the data plane's.</summary>
    public IkeIngress Ingress { get; }

    /// <summary>What this node knows of every replicated SA in the cluster; null without a cluster.</summary>
    public SaReplicaIndex? Replicas { get; }

    /// <summary>Cluster membership; null for a gateway started without <see cref="GatewayOptions.Cluster"/>.</summary>
    public ClusterNode? ClusterNode { get; private set; }

    /// <summary>The first listen address with its bound IKE port (ports may be ephemeral in tests).</summary>
    public IPEndPoint IkeEndpoint => _transports[0].IkeEndpoint;

    /// <summary>Sockets bound and receiving, actor system running, and (clustered) this node's member status Up.</summary>
    public bool Ready => _started && !_disposed && _transports.Count > 0 && !System.WhenTerminated.IsCompleted
                         && (ClusterNode is null || ClusterNode.SelfUp);

    public static Gateway Start(GatewayOptions options)
    {
        var gateway = new Gateway(options);
        foreach (var t in gateway._transports) t.Start();
        if (options.Cluster is { } cluster)
        {
            gateway.ClusterNode = ClusterNode.Start(gateway.System, cluster, gateway.Metrics, options.Loggers.CreateLogger("Concentrator.Cluster"));
        }
        gateway._started = true;
        return gateway;
    }

    /// <summary>Starts connections whose children say start_action: start.</summary>
    public void StartConfiguredConnections() => StartConnections(Config.Connections.Values);

    /// <summary>Starts those of <paramref name="connections"/> whose children say start_action: start.</summary>
    internal void StartConnections(IEnumerable<ConnectionConfig> connections)
    {
        foreach (var conn in connections)
        {
            var starting = conn.Children.Values.Where(c => c.StartAction == "start").ToList();
            if (starting.Count > 0 && RemoteOf(conn) is { } remote) Initiate(conn, remote, starting);
        }
    }

    /// <summary>Traffic hit a trap policy: negotiate that child unless a negotiation is already under way.</summary>
    public void Acquire(string connection, string child)
    {
        if (!Config.Connections.TryGetValue(connection, out var conn) || !conn.Children.TryGetValue(child, out var config)) return;
        if (RemoteOf(conn) is { } remote) Supervisor.Tell(new Initiate(conn, remote, [config], Acquire: true));
    }

    /// <summary>Starts an IKE SA for <paramref name="conn"/> with the given children; false when remote_addrs has no address.</summary>
    public bool TryInitiate(ConnectionConfig conn, IReadOnlyList<ChildConfig> children)
    {
        if (RemoteOf(conn) is not { } remote) return false;
        Initiate(conn, remote, children);
        return true;
    }

    /// <summary>The first concrete address in remote_addrs, at remote_port (default 500).</summary>
    private static IPEndPoint? RemoteOf(ConnectionConfig conn)
    {
        foreach (var remote in conn.RemoteAddrs)
        {
            if (IPAddress.TryParse(remote, out var address)) return new IPEndPoint(address, conn.RemotePort ?? UdpEncapsulation.IkePort);
        }
        return null;
    }

    public void Initiate(ConnectionConfig connection, IPEndPoint remote, IReadOnlyList<ChildConfig>? children = null) =>
        Supervisor.Tell(new Initiate(connection, remote, children));

    public Task<int> CountSasAsync() => Supervisor.Ask<int>(new GetSaCount(), TimeSpan.FromSeconds(5));

    /// <summary>
    /// Ends every IKE SA here, waiting at most <paramref name="timeout"/>, then leaves the cluster and stops. With other
    /// members Up the SAs are handed off (replicated as released, stopped without a Delete; the nodes the peers' traffic
    /// reaches next adopt them: a rolling restart renegotiates nothing); alone, they are deleted with their peers.
    /// </summary>
    public async Task ShutdownAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        try
        {
            bool handOff = ClusterNode is { } node && node.OtherMembersUp > 0;
            Supervisor.Tell(handOff ? IkeSaSupervisor.HandOffAll.Instance : new DeleteAll());
            while (DateTime.UtcNow < deadline && await CountSasAsync().ConfigureAwait(false) > 0)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
            if (handOff)
            {
                // The released snapshots must reach the other members before this node goes.
                var left = deadline - DateTime.UtcNow;
                if (left > TimeSpan.Zero)
                    await System.ActorSelection("/user/ike/mobility/replica").Ask<SaReplicaActor.Idle>(SaReplicaActor.WaitIdle.Instance, left).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
        {
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Bounds the graceful cluster leave on dispose (Akka's leave and exiting phases take 10 s each at most).</summary>
    private static readonly TimeSpan LeaveTimeout = TimeSpan.FromSeconds(15);

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        if (ClusterNode is { } cluster) await cluster.LeaveAsync(LeaveTimeout).ConfigureAwait(false);
        await System.Terminate().ConfigureAwait(false);
        await Updown.DrainAsync(Updown.Timeout).ConfigureAwait(false); // the downs of the SAs the shutdown deleted
        await _host.StopAsync().ConfigureAwait(false);
        _host.Dispose();
        foreach (var t in _transports) t.Dispose();
        // The Stops of the SAs deleted on shutdown go out before the client's sockets close.
        if (Accounting is { } accounting) await accounting.DrainAsync(AccountingDrainTimeout).ConfigureAwait(false);
        Accounting?.Dispose();
        Radius?.Dispose();
    }

    /// <summary>Sends through the transport whose address matches the SA's local address.</summary>
    private sealed class TransportSet(List<UdpIkeTransport> transports) : IIkeSender
    {
        public void Send(byte[] datagram, IPEndPoint remote, bool natT) => Pick(remote).Send(datagram, remote, natT);

        public IPEndPoint LocalEndpointFor(IPEndPoint remote, bool natT) => Pick(remote).LocalEndpointFor(remote, natT);

        public void SendNatKeepalive(IPEndPoint remote) => Pick(remote).SendNatKeepalive(remote);

        private UdpIkeTransport Pick(IPEndPoint remote)
        {
            foreach (var t in transports)
            {
                if (t.Address.AddressFamily == remote.AddressFamily) return t;
            }
            return transports[0];
        }
    }
}

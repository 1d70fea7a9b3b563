using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Dsl;
using Concentrator.Telemetry;

namespace Concentrator.Cluster.Membership;

/// <summary>
/// Akka.Cluster membership of one gateway node: creates the clustered ActorSystem, joins (itself, the seed nodes, or
/// through Cluster Bootstrap), and tracks whether this node is Up, which <see cref="Hosting.Gateway.Ready"/> requires.
/// </summary>
public sealed class ClusterNode
{
    private readonly ActorSystem _system;
    private readonly ClusterConfig _config;
    private readonly ILogger _log;
    private volatile bool _selfUp;
    private volatile bool _removed;

    private ClusterNode(ActorSystem system, ClusterConfig config, ILogger log)
    {
        _system = system;
        _config = config;
        _log = log;
    }

    /// <summary>What makes the ActorSystem an Akka.Hosting builder builds a cluster node: the cluster settings over the
    /// gateway's own HOCON, the Kubernetes bootstrap defaults when discovery is on, and TLS remoting when configured.
    /// Certificates are loaded here, so a bad one fails the gateway's start with its own message.</summary>
    public static Action<AkkaConfigurationBuilder> Configure(ClusterConfig config)
    {
        var hocon = ConfigurationFactory.ParseString(ClusterSettings.Hocon(config));
        if (config.Discovery == "kubernetes") hocon = WithBootstrapDefaults(hocon);
        var tls = config.TlsEnabled ? ClusterTls.Load(config).Setup() : null;
        return akka =>
        {
            akka.AddHocon(hocon, HoconAddMode.Prepend);
            if (tls is not null) akka.AddSetup(tls);
        };
    }

    /// <summary>Separate so that a node without discovery never loads the management and Kubernetes assemblies.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static Akka.Configuration.Config WithBootstrapDefaults(Akka.Configuration.Config hocon) =>
        hocon.WithFallback(AkkaManagementProvider.DefaultConfiguration())
            .WithFallback(ClusterBootstrap.DefaultConfiguration())
            .WithFallback(Akka.Discovery.KubernetesApi.KubernetesDiscovery.DefaultConfiguration());

    /// <summary>Starts membership tracking and joins; returns at once (this node becomes Up asynchronously).</summary>
    public static ClusterNode Start(ActorSystem system, ClusterConfig config, ConcentratorMetrics metrics, ILogger log)
    {
        var node = new ClusterNode(system, config, log);
        var cluster = Akka.Cluster.Cluster.Get(system);
        cluster.RegisterOnMemberRemoved(node.OnSelfRemoved);
        system.ActorOf(ClusterMonitor.Props(node, metrics, log), "cluster-monitor");

        string join;
        if (config.Discovery == "kubernetes")
        {
            join = $"bootstrap (kubernetes pods '{config.PodLabelSelector}', {config.RequiredContactPoints} contact points)";
            _ = node.StartBootstrapAsync();
        }
        else if (config.SeedNodes.Count == 0)
        {
            join = "itself (one-node cluster)";
            cluster.Join(cluster.SelfAddress);
        }
        else
        {
            join = string.Join(", ", config.SeedNodes);
            // Remoting over TLS is the akka.ssl.tcp protocol; seeds are written akka.tcp either way.
            var protocol = cluster.SelfAddress.Protocol;
            cluster.JoinSeedNodes(config.SeedNodes.Select(s => Address.Parse(s).WithProtocol(protocol)));
        }
        Log.ClusterStarting(log, cluster.SelfAddress.ToString(), join, config.SplitBrainResolver, config.TlsEnabled);
        return node;
    }

    /// <summary>This node's member status is Up (and it has not left or been removed since).</summary>
    public bool SelfUp => _selfUp && !_removed;

    /// <summary>This node's address, with the bound port when <c>port: 0</c>.</summary>
    public Address SelfAddress => Akka.Cluster.Cluster.Get(_system).SelfAddress;

    internal void SetSelfUp(bool up) => _selfUp = up;

    /// <summary>Members other than this node whose status is Up (handoff targets on leave).</summary>
    public int OtherMembersUp
    {
        get
        {
            var cluster = Akka.Cluster.Cluster.Get(_system);
            return cluster.State.Members.Count(m => m.Status == MemberStatus.Up && !m.Address.Equals(cluster.SelfAddress));
        }
    }

    /// <summary>Leaves the cluster through CoordinatedShutdown (the leave, exiting and terminate phases), bounded by <paramref name="timeout"/>.</summary>
    public async Task LeaveAsync(TimeSpan timeout)
    {
        if (_system.WhenTerminated.IsCompleted) return;
        Log.ClusterLeaving(_log);
        _selfUp = false;
        try
        {
            await CoordinatedShutdown.Get(_system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance)
                .WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private void OnSelfRemoved()
    {
        _removed = true;
        _selfUp = false;
        Log.ClusterSelfRemoved(_log, SelfAddressOrEmpty(), "removed");
    }

    private string SelfAddressOrEmpty()
    {
        try
        {
            return SelfAddress.ToString();
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            return "";
        }
    }

    private async Task StartBootstrapAsync()
    {
        try
        {
            await AkkaManagement.Get(_system).Start().ConfigureAwait(false);
            await ClusterBootstrap.Get(_system).Start().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Without bootstrap this node never joins and stays not ready; the probe reports it, the log says why.
            Log.ClusterBootstrapFailed(_log, ex.Message);
        }
    }
}

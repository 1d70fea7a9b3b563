namespace Concentrator.Cluster.Membership;

/// <summary>
/// <c>cluster:</c> — Akka.Cluster membership of this node. With no seed nodes and <c>discovery: none</c> the node
/// joins itself and is a one-node cluster. The Helm chart renders exactly these keys.
/// Remoting carries SA keys and acts on what it receives (release an SA, adopt one), so <see cref="TrustProblem"/> holds
/// every node to two rules: a one-node cluster binds to loopback, and remoting that reaches beyond this host runs
/// mutual TLS with a CA and a peer name.
/// </summary>
public sealed record ClusterConfig
{
    /// <summary>Overrides <see cref="Hostname"/> (Kubernetes: the pod IP from the downward API).</summary>
    public const string HostnameEnvironmentVariable = "CONCENTRATOR_CLUSTER_HOSTNAME";

    /// <summary>The actor system name every seed node address must carry.</summary>
    public const string SystemName = "concentrator";

    public static readonly string[] Discoveries = ["none", "kubernetes"];
    public static readonly string[] SplitBrainResolvers = ["keep-majority", "static-quorum", "keep-oldest", "down-all", "off"];

    /// <summary><c>hostname</c>: remoting bind and advertised address.</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary><c>port</c>: remoting TCP port; 0 binds any free port.</summary>
    public int Port { get; init; } = 4053;

    /// <summary><c>seed_nodes</c>: akka.tcp://concentrator@host:port addresses.</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary><c>discovery</c>: none, or kubernetes (Akka.Management Cluster Bootstrap over the Kubernetes API).</summary>
    public string Discovery { get; init; } = "none";

    /// <summary><c>management_port</c>: Akka.Management HTTP (bootstrap contact point) with discovery kubernetes.
    /// Kubernetes discovery finds it as the container port named <see cref="ManagementPortName"/>.</summary>
    public int ManagementPort { get; init; } = 8558;

    public const string ManagementPortName = "management";

    /// <summary><c>kubernetes.pod_label_selector</c>: the pods that are contact points.</summary>
    public string PodLabelSelector { get; init; } = "app.kubernetes.io/name=concentrator";

    /// <summary><c>kubernetes.required_contact_points</c>: contact points bootstrap waits for before forming a new cluster.</summary>
    public int RequiredContactPoints { get; init; } = 2;

    /// <summary><c>split_brain_resolver</c>: Akka's SBR strategy, or off (no automatic downing).</summary>
    public string SplitBrainResolver { get; init; } = "keep-majority";

    /// <summary>SBR acts when membership and reachability have not changed for this long (Akka's default is 20 s;
    /// shorter here because a minority node keeps answering IKE for peers it can no longer serve until downed).</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(7);

    /// <summary><c>tls.certificate</c>: PKCS#12 with this node's certificate and key (and intermediate CA certificates,
    /// if any); empty: plain TCP remoting. Nothing in it is trusted: <see cref="TlsCaCerts"/> is.</summary>
    public string TlsCertificate { get; init; } = "";

    /// <summary><c>tls.cacerts</c> (swanctl's remote.cacerts): PEM or DER files of the CAs whose certificates other nodes
    /// must present; the only trust anchors (the system store is never consulted).</summary>
    public IReadOnlyList<string> TlsCaCerts { get; init; } = [];

    /// <summary><c>tls.remote_id</c> (swanctl's remote.id): the name other nodes' certificates must carry
    /// (<see cref="ClusterPeerName"/>).</summary>
    public string TlsRemoteId { get; init; } = "";

    /// <summary><c>tls.password_file</c>: file holding the PKCS#12 password (trailing newline ignored); empty: no password.</summary>
    public string TlsPasswordFile { get; init; } = "";

    /// <summary>Config file the section came from, for errors raised when the node starts.</summary>
    public string Source { get; init; } = "<memory>";

    public bool TlsEnabled => TlsCertificate.Length > 0;

    /// <summary>No seed nodes and no discovery: a one-node cluster that nobody can join.</summary>
    public bool Lone => SeedNodes.Count == 0 && Discovery == "none";

    /// <summary>Where remoting binds and what it advertises: <see cref="Hostname"/>, or loopback for a lone node whatever a
    /// caller put into the record (the loader refuses anything else for one).</summary>
    public string BindHostname => Lone && !IsLoopback(Hostname) ? "127.0.0.1" : Hostname;

    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ||
        (System.Net.IPAddress.TryParse(host, out var address) && System.Net.IPAddress.IsLoopback(address));

    /// <summary>
    /// The rule of trust this section breaks, as (key under <c>cluster.</c>, problem), or null: a lone node must name a
    /// loopback hostname; a node that names seeds or discovery and a hostname beyond loopback needs TLS. Checked by the
    /// loader and again after <see cref="HostnameEnvironmentVariable"/> replaced the hostname.
    /// </summary>
    public (string Key, string Problem)? TrustProblem()
    {
        if (Lone && !IsLoopback(Hostname))
        {
            return ("hostname", $"'{Hostname}' is not a loopback address: a one-node cluster (no seed_nodes, discovery none) binds remoting " +
                "to loopback, where no other host reaches it (name seed_nodes or discovery to form a cluster of several nodes)");
        }
        if (!IsLoopback(Hostname) && !TlsEnabled)
        {
            return ("tls", $"remoting on '{Hostname}' reaches other hosts and carries SA keys and commands: a cluster of several nodes " +
                "needs mutual TLS (tls.certificate, tls.cacerts, tls.remote_id)");
        }
        return null;
    }

    /// <summary>static-quorum's quorum size: a majority of the expected members (the seed nodes, or the required
    /// contact points with discovery kubernetes); 1 for a node that forms a cluster alone.</summary>
    public int QuorumSize => Math.Max(1, (Discovery == "kubernetes" ? RequiredContactPoints : SeedNodes.Count) / 2 + 1);
}

/// <summary>Syntax of cluster addresses, shared by the loader and the environment override.</summary>
public static class ClusterAddresses
{
    public static bool IsHostname(string text) =>
        System.Net.IPAddress.TryParse(text, out _) || Uri.CheckHostName(text) == UriHostNameType.Dns;

    /// <summary>akka.tcp://concentrator@host:port with a port in 1..65535 (akka.ssl.tcp accepted as a synonym: the node
    /// uses its own transport's protocol, so one seed list serves with and without TLS); the error names the expected form.</summary>
    public static string? TrySeedNode(string text)
    {
        const string form = "akka.tcp://" + ClusterConfig.SystemName + "@host:port";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("akka.tcp" or "akka.ssl.tcp"))
        {
            return $"'{text}' is not a seed node address ({form})";
        }
        if (uri.UserInfo != ClusterConfig.SystemName)
        {
            return $"'{text}' names actor system '{uri.UserInfo}'; every node's is '{ClusterConfig.SystemName}' ({form})";
        }
        if (uri.IsDefaultPort || uri.Port is < 1 or > 65535 || uri.Host.Length == 0 || uri.AbsolutePath is not ("" or "/"))
        {
            return $"'{text}' needs a host and a port 1..65535 and nothing after them ({form})";
        }
        return null;
    }
}

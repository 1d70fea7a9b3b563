using Concentrator.Ipsec;
using Prometheus;

namespace Concentrator.Telemetry;

/// <summary>
/// The one way the product counts: every metric family of one concentrator node, in its own
/// <see cref="CollectorRegistry"/> (served on <c>/metrics</c>), so two gateways in one process (the
/// demo's fleet, tests) never mix. Names follow the Prometheus conventions: <c>concentrator_</c>
/// prefix, base units, <c>_total</c> counters, <c>_seconds</c> histograms. Labels are closed enums or
/// configured connection/child names, never an SPI or a peer address. Every event is also added to
/// the process-wide <see cref="IkeStats"/> totals (read by the demo summary and older tests).
/// Control-plane events only; the ESP hot path publishes per worker batch through <see cref="DataPlane"/>.
/// </summary>
public sealed class ConcentratorMetrics
{
    private static readonly Lazy<ConcentratorMetrics> SharedDetached = new(() => new ConcentratorMetrics());

    private static readonly IkeSaState[] TrackedStates =
        [IkeSaState.Created, IkeSaState.Connecting, IkeSaState.Established, IkeSaState.Deleting];

    // IKE SA families by version (index (int)version - 1), then role or state: see IkeVersion.
    private readonly Gauge.Child[,] _ikeSasByState = new Gauge.Child[2, Enum.GetValues<IkeSaState>().Length];
    private readonly Gauge _halfOpen;
    private readonly Gauge _childSas;
    private readonly Gauge _tunnelUp;
    private readonly Counter.Child[,] _negStarted = new Counter.Child[2, 2];
    private readonly Counter.Child[,] _negSucceeded = new Counter.Child[2, 2];
    private readonly Counter.Child[,,] _negFailed;
    private readonly Histogram.Child[,] _setup = new Histogram.Child[2, 2];
    private readonly Counter.Child[] _closed;
    private readonly Counter _childCreated;
    private readonly Counter _rekeys;
    private readonly Counter _reauths;
    private readonly Counter _reloads;
    private readonly Counter _dpdProbes;
    private readonly Counter _deadPeers;
    private readonly Counter.Child[] _peerMoves;
    private readonly Counter.Child[] _mobikeUpdates;
    private readonly Counter.Child[,] _authFailures;
    private readonly Counter.Child[,] _logins;
    private readonly Gauge.Child[] _usersOnline;
    private readonly Counter.Child[] _ocspRequests;
    private readonly Counter _ocspCacheHits;
    private readonly Counter.Child[] _retransmits;
    private readonly Counter _cookiesSent;
    private readonly Counter.Child[] _received;
    private readonly Counter.Child[] _sent;
    private readonly Counter.Child[] _dropped;
    private readonly Counter.Child[] _malformed;
    private readonly Counter _fragmentsSent;
    private readonly Counter _fragmentsReceived;
    private readonly Counter _reassembled;
    private readonly Gauge _reassemblyBytes;
    private readonly Gauge _clusterMembers;
    private readonly Gauge _replicatedSas;
    private readonly Counter.Child[] _adoptions;
    private readonly Counter.Child[] _clusterDrops;
    private readonly Counter.Child[] _released;
    private readonly Gauge _clusterUnreachable;
    private readonly Gauge _ready;
    private readonly Gauge _poolSize;
    private readonly Gauge _poolInUse;
    private readonly Gauge _poolOffline;
    private readonly Gauge _poolFree;

    private readonly object _tunnelLock = new();
    private readonly HashSet<(string Connection, string Child)> _configuredChildren = new();
    private readonly HashSet<(string Connection, string Child)> _tunnelChildren = new();
    private readonly Dictionary<(string Connection, string Child), int> _installed = new();

    /// <param name="runtimeCollectors">Add prometheus-net's .NET runtime and process collectors (the served node does).</param>
    /// <param name="node">This node's name in cluster families (defaults to the host name).</param>
    public ConcentratorMetrics(bool runtimeCollectors = false, string? node = null)
    {
        Registry = Metrics.NewCustomRegistry();
        if (runtimeCollectors) DotNetStats.Register(Registry);
        var f = Metrics.WithCustomRegistry(Registry);
        Node = node ?? Environment.MachineName;

        var byState = f.CreateGauge("concentrator_ike_sas", "IKE SAs by state and IKE version.", "state", "version");
        foreach (var v in LabelValues.IkeVersions)
        {
            foreach (var s in TrackedStates) _ikeSasByState[(int)v - 1, (int)s] = byState.WithLabels(LabelValues.Snake(s.ToString()), LabelValues.Version(v));
        }
        _halfOpen = f.CreateGauge("concentrator_ike_half_open_sas", "Responder IKE SAs past IKE_SA_INIT and not yet authenticated.");
        _childSas = f.CreateGauge("concentrator_child_sas", "Child SAs installed in the data plane, by configured connection and child.",
            "connection", "child");
        _tunnelUp = f.CreateGauge("concentrator_tunnel_up",
            "1 while at least one Child SA of a configured site-to-site child (start_action start or trap) is installed, else 0.",
            "connection", "child");

        var started = f.CreateCounter("concentrator_ike_negotiations_started_total", "IKE SA negotiations started, by role and IKE version.", "role", "version");
        var succeeded = f.CreateCounter("concentrator_ike_negotiations_succeeded_total", "IKE SA negotiations that established the IKE SA, by role and IKE version.", "role", "version");
        var failed = f.CreateCounter("concentrator_ike_negotiations_failed_total", "IKE SA negotiations that failed, by role, reason and IKE version.", "role", "reason", "version");
        var setup = f.CreateHistogram("concentrator_ike_sa_setup_duration_seconds",
            "Time from the first message (IKE_SA_INIT, IKEv1 main mode 1) to the established IKE SA, by role and IKE version.",
            new HistogramConfiguration
            {
                LabelNames = ["role", "version"],
                Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
            });
        var reasons = LabelValues.SnakeNames<CloseReason>();
        _negFailed = new Counter.Child[2, 2, reasons.Length];
        foreach (var v in LabelValues.IkeVersions)
        {
            string version = LabelValues.Version(v);
            int x = (int)v - 1;
            for (int r = 0; r < 2; r++)
            {
                string role = LabelValues.Role(r == 0);
                _negStarted[x, r] = started.WithLabels(role, version);
                _negSucceeded[x, r] = succeeded.WithLabels(role, version);
                _setup[x, r] = setup.WithLabels(role, version);
                for (int i = 0; i < reasons.Length; i++) _negFailed[x, r, i] = failed.WithLabels(role, reasons[i], version);
            }
        }

        var closed = f.CreateCounter("concentrator_ike_sas_closed_total", "IKE SAs ended (deleted, failed, timed out), by reason.", "reason");
        _closed = reasons.Select(r => closed.WithLabels(r)).ToArray();
        _childCreated = f.CreateCounter("concentrator_child_sas_created_total", "Child SAs negotiated.");

        _rekeys = f.CreateCounter("concentrator_rekeys_total", "Rekeys by kind (ike, child) and outcome (success, failure).", "kind", "outcome");
        foreach (var kind in new[] { "ike", "child" })
        {
            foreach (var outcome in new[] { "success", "failure" }) _rekeys.WithLabels(kind, outcome);
        }
        _reauths = f.CreateCounter("concentrator_ike_reauths_total", "IKE SA reauthentications by outcome (success, failure).", "outcome");
        _reauths.WithLabels("success");
        _reauths.WithLabels("failure");
        _reloads = f.CreateCounter("concentrator_config_reloads_total",
            "Configuration reloads (reload command, SIGHUP) by outcome: applied, refused (a restart-only key changed) or invalid (the file did not load).",
            "outcome");
        foreach (var outcome in ReloadOutcomes) _reloads.WithLabels(outcome);

        _dpdProbes = f.CreateCounter("concentrator_ike_dpd_probes_total", "Dead peer detection probes (empty INFORMATIONAL requests) sent.");
        _deadPeers = f.CreateCounter("concentrator_ike_dead_peers_total", "Established IKE SAs closed because the peer stopped answering.");
        var moves = f.CreateCounter("concentrator_ike_peer_moves_total",
            "Established IKE SAs (with all their Child SAs) that followed their peer to a new address or port (its NAT's mapping " +
            "changed), by what showed it: an authenticated IKE message or authenticated, new ESP.", "trigger");
        _peerMoves = [moves.WithLabels("ike"), moves.WithLabels("esp")];
        var mobike = f.CreateCounter("concentrator_ike_mobike_updates_total",
            "MOBIKE address updates (RFC 4555 UPDATE_SA_ADDRESSES), by outcome: as responder moved, unchanged, not_negotiated " +
            "(ignored), nat_refused, malformed; as original initiator sent, confirmed, cookie_mismatch (SA closed), refused.", "outcome");
        _mobikeUpdates = LabelValues.SnakeNames<MobikeOutcome>().Select(o => mobike.WithLabels(o)).ToArray();
        var authFailures = f.CreateCounter("concentrator_ike_auth_failures_total",
            "Peers not authenticated in IKE_AUTH (answered AUTHENTICATION_FAILED, or the SA closed as initiator), by our role and reason.",
            "role", "reason");
        var authReasons = LabelValues.SnakeNames<AuthFailure>();
        _authFailures = new Counter.Child[2, authReasons.Length];
        for (int r = 0; r < 2; r++)
        {
            for (int i = 0; i < authReasons.Length; i++) _authFailures[r, i] = authFailures.WithLabels(LabelValues.Role(r == 0), authReasons[i]);
        }
        var logins = f.CreateCounter("concentrator_logins_total",
            "Logins of peers (responder IKE_AUTH) by method (psk, pubkey, eap-mschapv2, eap-radius, ...) and outcome (success, or the auth failure reason).",
            "method", "outcome");
        _logins = new Counter.Child[LabelValues.LoginMethods.Length, authReasons.Length + 1];
        for (int m = 0; m < LabelValues.LoginMethods.Length; m++)
        {
            _logins[m, 0] = logins.WithLabels(LabelValues.LoginMethods[m], "success");
            for (int i = 0; i < authReasons.Length; i++) _logins[m, i + 1] = logins.WithLabels(LabelValues.LoginMethods[m], authReasons[i]);
        }
        var online = f.CreateGauge("concentrator_users_online", "Established IKE SAs of logged-in peers (responder), by login method.", "method");
        _usersOnline = LabelValues.LoginMethods.Select(m => online.WithLabels(m)).ToArray();
        var ocsp = f.CreateCounter("concentrator_ocsp_requests_total",
            "OCSP checks of peer certificates with a responder (RFC 6960), by outcome: good and revoked decide, the others leave remote.revocation to decide (responder_down: not sent, the responder failed within 30 s).",
            "outcome");
        _ocspRequests = LabelValues.SnakeNames<OcspOutcome>().Select(o => ocsp.WithLabels(o)).ToArray();
        _ocspCacheHits = f.CreateCounter("concentrator_ocsp_cache_hits_total",
            "OCSP answers (good or revoked) for peer certificates taken from the cache until their nextUpdate, no request sent.");
        var retransmits = f.CreateCounter("concentrator_ike_retransmissions_total", "IKE requests retransmitted, by exchange.", "exchange");
        _retransmits = LabelValues.Exchanges.Select(e => retransmits.WithLabels(e)).ToArray();
        _cookiesSent = f.CreateCounter("concentrator_ike_cookies_sent_total", "COOKIE challenges sent to IKE_SA_INIT requests (RFC 7296 §2.6).");
        var received = f.CreateCounter("concentrator_ike_messages_received_total", "IKE messages received with a valid header, by exchange.", "exchange");
        var sent = f.CreateCounter("concentrator_ike_messages_sent_total", "IKE messages sent (retransmissions included), by exchange.", "exchange");
        _received = LabelValues.Exchanges.Select(e => received.WithLabels(e)).ToArray();
        _sent = LabelValues.Exchanges.Select(e => sent.WithLabels(e)).ToArray();

        var dropped = f.CreateCounter("concentrator_ike_messages_dropped_total", "IKE datagrams dropped before or during processing, by reason.", "reason");
        _dropped = Enumerable.Range(0, (int)IkeDropReason.Count)
            .Select(i => dropped.WithLabels(LabelValues.Snake(((IkeDropReason)i).ToString()))).ToArray();
        var malformed = f.CreateCounter("concentrator_ike_malformed_messages_total", "IKE messages that failed to parse, by parse status.", "reason");
        _malformed = Enum.GetValues<ParseStatus>().Select(s => s == ParseStatus.Ok ? null! : malformed.WithLabels(LabelValues.Snake(s.ToString()))).ToArray();
        _fragmentsSent = f.CreateCounter("concentrator_ike_fragments_sent_total",
            "IKE fragments (SKF, RFC 7383) sent, retransmissions included.");
        _fragmentsReceived = f.CreateCounter("concentrator_ike_fragments_received_total",
            "IKE fragments (SKF, RFC 7383) received that passed their integrity check.");
        _reassembled = f.CreateCounter("concentrator_ike_messages_reassembled_total", "IKE messages reassembled from fragments.");
        _reassemblyBytes = f.CreateGauge("concentrator_ike_fragment_reassembly_bytes",
            "Octets of IKE fragments held while their messages are reassembled (bounded by charon.fragment_memory).");

        // Cluster families: until the cluster monitor reports, a node counts itself as the one member Up.
        _clusterMembers = f.CreateGauge("concentrator_cluster_members", "Akka cluster members by status, as seen by this node.", "status");
        foreach (var status in ClusterMemberStatuses)
        {
            _clusterMembers.WithLabels(status).Set(status == "up" ? 1 : 0);
        }
        _clusterUnreachable = f.CreateGauge("concentrator_cluster_unreachable_members",
            "Akka cluster members this node's failure detector marks unreachable.");
        _replicatedSas = f.CreateGauge("concentrator_cluster_replicated_sas",
            "IKE SAs of the whole cluster whose state this node holds a replica of (0 without a cluster).");
        var adoptions = f.CreateCounter("concentrator_cluster_sa_adoptions_total",
            "Attempts of this node to take over an IKE SA from another member (its peer's traffic moved here, or the member left), by outcome.", "outcome");
        _adoptions = AdoptionOutcomes.Select(o => adoptions.WithLabels(o)).ToArray();
        var clusterDrops = f.CreateCounter("concentrator_cluster_messages_dropped_total",
            "Messages from other cluster nodes this node dropped, by reason: not_member (the sender is not a member Up), unrequested (an answer to a release it did not ask for), malformed.", "reason");
        _clusterDrops = ClusterDropReasons.Select(r => clusterDrops.WithLabels(r)).ToArray();
        var released = f.CreateCounter("concentrator_cluster_sa_releases_total",
            "IKE SAs this node stopped holding without a Delete, by reason: moved (released to the node the peer's traffic reaches), handoff (leaving), fenced (another node adopted it).", "reason");
        _released = ReleaseReasons.Select(r => released.WithLabels(r)).ToArray();
        _poolSize = f.CreateGauge("concentrator_pool_addresses", "Addresses of each virtual IP pool (swanctl pools).", "pool");
        _poolInUse = f.CreateGauge("concentrator_pool_leases_in_use",
            "Virtual IP leases held by this node's IKE SAs, by pool; summed over nodes: the pool's use.", "pool");
        _poolOffline = f.CreateGauge("concentrator_pool_leases_offline",
            "Virtual IP leases kept for identities whose last IKE SA on this node is gone (they get the address back), by pool.", "pool");
        _poolFree = f.CreateGauge("concentrator_pool_addresses_free",
            "Addresses of each pool no IKE SA and no returning identity holds, as this node knows them (in a cluster every node " +
            "reports the whole pool's count: take the minimum, not the sum).", "pool");
        _ready = f.CreateGauge("concentrator_node_ready", "1 when this node is ready (sockets bound, data plane and actor system running), else 0.");
        f.CreateGauge("concentrator_build_info", "Always 1; the labels say which build runs (version, source commit, .NET runtime).",
            "version", "commit", "runtime").WithLabels(BuildInfo.Version, BuildInfo.Commit, BuildInfo.Runtime).Set(1);

        DataPlane = new DataPlaneMetrics(f, Registry);
        Radius = new RadiusMetrics(f);
        Limits = new LimitReporter(f);
        Users = new UserMetrics(f);
        DataPlane.Limits = Limits;
    }

    /// <summary>Counts for code without a served node (protocol unit tests): same API, never scraped.</summary>
    public static ConcentratorMetrics Detached => SharedDetached.Value;

    public CollectorRegistry Registry { get; }
    public DataPlaneMetrics DataPlane { get; }
    public RadiusMetrics Radius { get; }

    /// <summary>Hits of the configured resource bounds (counted and rate-limited logging).</summary>
    public LimitReporter Limits { get; }

    /// <summary>Unique policies and updown scripts.</summary>
    public UserMetrics Users { get; }

    public void CountUnique(string policy, UniqueOutcome outcome) => Users.CountUnique(policy, outcome);
    public string Node { get; }

    /// <summary>
    /// Declares the configured connections/children: only they become label values, and children that are tunnels
    /// (swanctl start_action start or trap: site-to-site) get a <c>concentrator_tunnel_up</c> series, 0 until up.
    /// </summary>
    public void DeclareChildren(IEnumerable<(string Connection, string Child, bool Tunnel)> children)
    {
        lock (_tunnelLock)
        {
            foreach (var (connection, child, tunnel) in children)
            {
                var key = (connection, child);
                _configuredChildren.Add(key);
                if (tunnel && _tunnelChildren.Add(key))
                {
                    _tunnelUp.WithLabels(connection, child).Set(_installed.GetValueOrDefault(key) > 0 ? 1 : 0);
                }
            }
        }
    }

    // ---- IKE SA lifecycle ----

    public void IkeSaStateChanged(IkeSaState? from, IkeSaState? to, IkeVersion version)
    {
        if (from is { } f && f != IkeSaState.Destroyed) _ikeSasByState[(int)version - 1, (int)f].Dec();
        if (to is { } t && t != IkeSaState.Destroyed) _ikeSasByState[(int)version - 1, (int)t].Inc();
    }

    public void SetHalfOpen(int count) => _halfOpen.Set(count);

    public void NegotiationStarted(bool initiator, IkeVersion version) => _negStarted[(int)version - 1, initiator ? 0 : 1].Inc();

    public void NegotiationSucceeded(bool initiator, TimeSpan setup, IkeVersion version)
    {
        _negSucceeded[(int)version - 1, initiator ? 0 : 1].Inc();
        _setup[(int)version - 1, initiator ? 0 : 1].Observe(setup.TotalSeconds);
        IkeStats.CountEstablished();
    }

    public void NegotiationFailed(bool initiator, CloseReason reason, IkeVersion version) =>
        _negFailed[(int)version - 1, initiator ? 0 : 1, (int)reason].Inc();

    public void CountClosed(CloseReason reason, bool wasEstablished)
    {
        _closed[(int)reason].Inc();
        if (wasEstablished && reason == CloseReason.Timeout) _deadPeers.Inc();
        IkeStats.CountClosed(reason);
    }

    public void CountChildCreated()
    {
        _childCreated.Inc();
        IkeStats.CountChildEstablished();
    }

    /// <summary>For the lifecycle work: <paramref name="kind"/> is "ike" or "child".</summary>
    public void CountRekey(string kind, bool success) => _rekeys.WithLabels(kind is "ike" ? "ike" : "child", success ? "success" : "failure").Inc();

    public void CountReauth(bool success) => _reauths.WithLabels(success ? "success" : "failure").Inc();

    /// <summary>The outcomes <see cref="CountReload"/> takes (a bounded label).</summary>
    public static readonly string[] ReloadOutcomes = ["applied", "refused", "invalid"];

    public void CountReload(string outcome) => _reloads.WithLabels(ReloadOutcomes.Contains(outcome) ? outcome : "invalid").Inc();

    public void CountDpdProbe() => _dpdProbes.Inc();

    public void CountAuthFailure(bool initiator, AuthFailure reason) => _authFailures[initiator ? 0 : 1, (int)reason].Inc();

    /// <summary>A login (responder IKE_AUTH) of <paramref name="method"/>: success when <paramref name="failure"/> is null.</summary>
    public void CountLogin(string method, AuthFailure? failure) =>
        _logins[LabelValues.LoginMethodIndex(method), failure is { } f ? (int)f + 1 : 0].Inc();

    /// <summary>An established SA of a logged-in user starts (+1) or stops (-1) counting as online.</summary>
    public void UserOnline(string method, int delta)
    {
        var gauge = _usersOnline[LabelValues.LoginMethodIndex(method)];
        if (delta >= 0) gauge.Inc(delta);
        else gauge.Dec(-delta);
    }

    public void CountOcspRequest(OcspOutcome outcome) => _ocspRequests[(int)outcome].Inc();

    public void CountOcspCacheHit() => _ocspCacheHits.Inc();

    public void CountPeerMove(bool byEsp) => _peerMoves[byEsp ? 1 : 0].Inc();

    public void CountMobikeUpdate(MobikeOutcome outcome) => _mobikeUpdates[(int)outcome].Inc();

    public void CountRetransmit(ExchangeType exchange)
    {
        _retransmits[LabelValues.ExchangeIndex(exchange)].Inc();
        IkeStats.CountRetransmit();
    }

    public void CountCookieSent()
    {
        _cookiesSent.Inc();
        IkeStats.CountCookieSent();
    }

    public void CountReceived(ExchangeType exchange) => _received[LabelValues.ExchangeIndex(exchange)].Inc();

    public void CountSent(ReadOnlySpan<byte> ikeMessage) => _sent[LabelValues.ExchangeIndex(ikeMessage)].Inc();

    public void CountMalformed(ParseStatus status)
    {
        if (status == ParseStatus.Ok) return;
        _malformed[(int)status].Inc();
        _dropped[(int)IkeDropReason.Malformed].Inc();
        IkeStats.CountMalformed(status);
    }

    public void CountFragmentSent() => _fragmentsSent.Inc();

    public void CountFragmentReceived() => _fragmentsReceived.Inc();

    public void CountReassembled() => _reassembled.Inc();

    /// <summary>Octets taken (positive) or given back (negative) by fragment reassembly.</summary>
    public void AddReassemblyBytes(long delta)
    {
        if (delta >= 0) _reassemblyBytes.Inc(delta);
        else _reassemblyBytes.Dec(-delta);
    }

    public void CountDrop(IkeDropReason reason)
    {
        _dropped[(int)reason].Inc();
        IkeStats.CountDrop(reason);
    }

    /// <summary>An IKE datagram or SA refused by a resource bound: a drop with reason resource_limit and a limit hit.</summary>
    public void CountLimitDrop(ResourceLimit limit, long bound)
    {
        CountDrop(IkeDropReason.ResourceLimit);
        Limits.Hit(limit, bound);
    }

    // ---- Child SAs in the data plane ----

    public void ChildSaInstalled(string connection, string child) => MoveChild(connection, child, +1);

    public void ChildSaRemoved(string connection, string child) => MoveChild(connection, child, -1);

    private void MoveChild(string connection, string child, int delta)
    {
        lock (_tunnelLock)
        {
            var key = (connection, child);
            if (!_configuredChildren.Contains(key)) key = (LabelValues.Unconfigured, LabelValues.Unconfigured);
            int now = Math.Max(0, _installed.GetValueOrDefault(key) + delta);
            _installed[key] = now;
            _childSas.WithLabels(key.Item1, key.Item2).Set(now);
            if (_tunnelChildren.Contains(key)) _tunnelUp.WithLabels(key.Item1, key.Item2).Set(now > 0 ? 1 : 0);
        }
    }

    // ---- Node ----

    public void SetReady(bool ready) => _ready.Set(ready ? 1 : 0);

    /// <summary>One virtual IP pool's counts (labels: the configured pool name only).</summary>
    public void SetPoolUsage(string pool, long size, int inUse, int offline, long free)
    {
        _poolSize.WithLabels(pool).Set(size);
        _poolInUse.WithLabels(pool).Set(inUse);
        _poolOffline.WithLabels(pool).Set(offline);
        _poolFree.WithLabels(pool).Set(free);
    }

    /// <summary>A reload removed <paramref name="pool"/>: its series go rather than keep their last values.</summary>
    public void RemovePool(string pool)
    {
        _poolSize.RemoveLabelled(pool);
        _poolInUse.RemoveLabelled(pool);
        _poolOffline.RemoveLabelled(pool);
        _poolFree.RemoveLabelled(pool);
    }

    public void SetClusterMembers(string status, int count) => _clusterMembers.WithLabels(status).Set(count);

    /// <summary>The status label values of <c>concentrator_cluster_members</c> (Akka's MemberStatus in snake case).</summary>
    public static readonly string[] ClusterMemberStatuses = ["joining", "weakly_up", "up", "leaving", "exiting", "down", "removed"];

    public void SetClusterUnreachable(int count) => _clusterUnreachable.Set(count);

    public void SetReplicatedSas(int count) => _replicatedSas.Set(count);

    /// <summary>Label values of <c>concentrator_cluster_sa_adoptions_total</c>, indexed by <see cref="SaAdoptionOutcome"/>.</summary>
    public static readonly string[] AdoptionOutcomes = ["adopted", "failed", "refused", "unauthenticated", "throttled", "contended"];

    public void CountSaAdoption(SaAdoptionOutcome outcome) => _adoptions[(int)outcome].Inc();

    /// <summary>Label values of <c>concentrator_cluster_messages_dropped_total</c>, indexed by <see cref="ClusterMessageDrop"/>.</summary>
    public static readonly string[] ClusterDropReasons = ["not_member", "unrequested", "malformed"];

    public void CountClusterMessageDropped(ClusterMessageDrop reason) => _clusterDrops[(int)reason].Inc();

    /// <summary>Label values of <c>concentrator_cluster_sa_releases_total</c>, indexed by <see cref="SaReleaseReason"/>.</summary>
    public static readonly string[] ReleaseReasons = ["moved", "handoff", "fenced"];

    public void CountSaRelease(SaReleaseReason reason) => _released[(int)reason].Inc();
}


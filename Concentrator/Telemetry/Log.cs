using System.Net;
using Concentrator.Ipsec;

namespace Concentrator.Telemetry;

/// <summary>
/// Every log line of the product, with stable event IDs: 1000s IKE SA lifecycle, 2000s actors,
/// 3000s data plane, 4000s configuration and CLI, 5000s cluster membership. Never pass key material or raw payloads here.
/// </summary>
/// Per-setup events of a healthy SA (created, established, Child SA installed and removed) are debug: at a few
/// thousand setups a second their JSON lines cost more CPU than the protocol, and concentrator_ike_sa_* and
/// concentrator_child_sa_* count the same outcomes. Failures and closes stay information and above.
public static partial class Log
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug,
        Message = "IKE SA {Spi} {Connection} established with {Peer} ({RemoteId}) as {Role}, {Proposal}, setup {SetupMs} ms, NAT {Nat}")]
    public static partial void IkeSaEstablished(ILogger logger, string spi, string connection, IPEndPoint peer, string remoteId,
        string role, string proposal, double setupMs, bool nat);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information,
        Message = "IKE SA {Spi} {Connection} with {Peer} closed: {Reason} (state was {State})")]
    public static partial void IkeSaClosed(ILogger logger, string spi, string connection, IPEndPoint peer, CloseReason reason, string state);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug,
        Message = "Child SA {Connection}/{Child} installed, SPIs in {InboundSpi} out {OutboundSpi}, {Suite}, {LocalTs} === {RemoteTs}")]
    public static partial void ChildSaInstalled(ILogger logger, string connection, string child, string inboundSpi, string outboundSpi,
        string suite, string localTs, string remoteTs);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Child SA {Connection}/{Child} removed, SPI in {InboundSpi}")]
    public static partial void ChildSaRemoved(ILogger logger, string connection, string child, string inboundSpi);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Initiating {Connection} to {Peer}")]
    public static partial void Initiating(ILogger logger, string connection, IPEndPoint peer);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Debug, Message = "IKE SA {Spi} created as responder for {Peer}, connecting")]
    public static partial void IkeSaCreated(ILogger logger, string spi, IPEndPoint peer);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "IKE SA {Spi} {Connection} with {Peer} deleting")]
    public static partial void IkeSaDeleting(ILogger logger, string spi, string connection, IPEndPoint peer);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Information, Message = "Tracing IKE exchanges to OTLP endpoint {Endpoint}")]
    public static partial void TracingEnabled(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "IKE SA {OldSpi} {Connection} rekeyed to {NewSpi}")]
    public static partial void IkeSaRekeyed(ILogger logger, string oldSpi, string newSpi, string connection);

    [LoggerMessage(EventId = 1030, Level = LogLevel.Information, Message = "IKE SA {Spi} {Connection}: virtual IP {Addresses} for {RemoteId}, {Source}")]
    public static partial void VirtualIps(ILogger logger, string spi, string connection, string addresses, string remoteId, string source);

    [LoggerMessage(EventId = 1031, Level = LogLevel.Warning,
        Message = "IKE SA {Spi} {Connection}: no virtual IP for {RemoteId} from pools {Pools} ({Why}); IKE_AUTH built no Child SA")]
    public static partial void VirtualIpFailed(ILogger logger, string spi, string connection, string remoteId, string pools, string why);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information,
        Message = "IKE SA {Spi}: peer moved from {From} to {To} (authenticated {Trigger}); {Children} Child SAs follow")]
    public static partial void PeerMoved(ILogger logger, string spi, System.Net.IPEndPoint from, System.Net.IPEndPoint to, string trigger, int children);

    [LoggerMessage(EventId = 4300, Level = LogLevel.Information,
        Message = "IKE SA {Spi}: MOBIKE moved it from {From} to {To} (NAT detected: {NatDetected}); {Children} Child SAs follow")]
    public static partial void MobikeMoved(ILogger logger, string spi, System.Net.IPEndPoint from, System.Net.IPEndPoint to, bool natDetected, int children);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning,
        Message = "IKE SA {Spi} with {Peer}: peer '{RemoteId}' not authenticated: {Reason} ({Detail})")]
    public static partial void PeerAuthFailed(ILogger logger, string spi, IPEndPoint peer, string remoteId, AuthFailure reason, string detail);

    // EAP (RFC 7296 §2.16): 4100 and 4110-4199 (4101 and 4102 are configuration warnings, below).
    [LoggerMessage(EventId = 4100, Level = LogLevel.Information,
        Message = "IKE SA {Spi} with {Peer}: '{RemoteId}' logged in as EAP identity '{EapId}' ({Method})")]
    public static partial void EapLogin(ILogger logger, string spi, IPEndPoint peer, string remoteId, string eapId, string method);

    [LoggerMessage(EventId = 4110, Level = LogLevel.Warning,
        Message = "IKE SA {Spi}: EAP step of {Method} gave no answer: {Reason}")]
    public static partial void EapStepFailed(ILogger logger, string spi, string method, string reason);

    [LoggerMessage(EventId = 1032, Level = LogLevel.Warning,
        Message = "IKE SA {Spi} with {Peer}: certificate of '{RemoteId}' trusted without a revocation answer (revocation relaxed): {Detail}")]
    public static partial void RevocationUnverified(ILogger logger, string spi, IPEndPoint peer, string remoteId, string detail);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "IKE SA actor {Spi} failed and was stopped; other SAs are unaffected")]
    public static partial void IkeSaActorFailed(ILogger logger, Exception exception, string spi);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "IKE_SA_INIT from {Peer} refused: {Reason}")]
    public static partial void InitRefused(ILogger logger, IPEndPoint peer, string reason);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning,
        Message = "IKE_SA_INIT from {Source} refused for {BackoffSeconds}s after {Failures} AUTHENTICATION_FAILED; {Others} more sources blocked since the last report")]
    public static partial void AuthFailedBackoff(ILogger logger, IPAddress source, double backoffSeconds, int failures, int others);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "{Count} half-open IKE SAs expired after {TimeoutSeconds}s (charon.half_open_timeout)")]
    public static partial void HalfOpenExpired(ILogger logger, int count, double timeoutSeconds);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning,
        Message = "Resource limit charon.{Limit} = {Bound} reached: {Hits} refusals since the last report (reported at most every {IntervalSeconds} s)")]
    public static partial void LimitReached(ILogger logger, string limit, long bound, long hits, double intervalSeconds);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Route {Prefix} via {Device} not installed: {Error}")]
    public static partial void RouteFailed(ILogger logger, string prefix, string device, string error);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Tunnel route not removed: {Error}")]
    public static partial void RouteRemoveFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Error,
        Message = "Routing rule not installed, so traffic does not reach the tunnel routes in table {Table}: {Error}")]
    public static partial void RoutingRuleFailed(ILogger logger, uint table, string error);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning,
        Message = "Route {Prefix} via {Device} not installed: it is the peer's own address {Peer} (its IKE and ESP must not enter the tunnel)")]
    public static partial void RouteRefusedPeerAddress(ILogger logger, string prefix, string device, string peer);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information,
        Message = "Tunnel routes in table {Table}, looked up by the rules {Rules}; the IKE and ESP sockets carry fwmark {Mark}")]
    public static partial void RoutingTable(ILogger logger, uint table, string rules, string mark);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Peer address {Peer} not excluded from the tunnel routes: {Error}")]
    public static partial void RouteExclusionFailed(ILogger logger, string peer, string error);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Data plane on {Device}: {Workers} workers, NAT-T port {Port}, plain ESP {PlainEsp}")]
    public static partial void DataPlaneStarted(ILogger logger, string device, int workers, int port, bool plainEsp);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Information, Message = "ESP crypto: {Library}")]
    public static partial void EspCryptoSelected(ILogger logger, string library);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Listening for IKE on {Ike} and NAT-T on {Natt}")]
    public static partial void Listening(ILogger logger, IPEndPoint ike, IPEndPoint natt);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Loaded {Connections} connections from {Source}")]
    public static partial void ConfigLoaded(ILogger logger, int connections, string source);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Shutting down: deleting {Count} IKE SAs")]
    public static partial void ShuttingDown(ILogger logger, int count);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning,
        Message = "Configuration {File} contains secrets and is readable by {Who} (mode {Mode}); restrict it, e.g. chmod 600")]
    public static partial void SecretsFileExposed(ILogger logger, string file, string who, string mode);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning,
        Message = "Connection {Connection} enables weak algorithms (weak_algorithms: yes; uses {Algorithms}): RFC 8247/8221 deprecate them; keep it only for legacy peers")]
    public static partial void WeakAlgorithmsEnabled(ILogger logger, string connection, string algorithms);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "HTTP endpoint on {Address}")]
    public static partial void HttpListening(ILogger logger, string address);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information,
        Message = "Cluster node {Address} starting: join {Join}, split brain resolver {Resolver}, remoting TLS {Tls}")]
    public static partial void ClusterStarting(ILogger logger, string address, string join, string resolver, bool tls);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Cluster member {Address} is {Status}")]
    public static partial void ClusterMemberChanged(ILogger logger, string address, string status);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "Cluster member {Address} is unreachable")]
    public static partial void ClusterMemberUnreachable(ILogger logger, string address);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Cluster member {Address} is reachable again")]
    public static partial void ClusterMemberReachable(ILogger logger, string address);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "This node {Address} is Up: ready")]
    public static partial void ClusterSelfUp(ILogger logger, string address);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning,
        Message = "This node {Address} left or was downed and removed from the cluster ({Status}): not ready, stopping")]
    public static partial void ClusterSelfRemoved(ILogger logger, string address, string status);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "Leaving the cluster gracefully")]
    public static partial void ClusterLeaving(ILogger logger);

    [LoggerMessage(EventId = 5008, Level = LogLevel.Error, Message = "Cluster bootstrap failed to start: {Error}")]
    public static partial void ClusterBootstrapFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 5009, Level = LogLevel.Information,
        Message = "Adopted IKE SA {Spi} (epoch {Epoch}, {Children} child SAs): its peer's traffic arrives at this node now")]
    public static partial void SaAdopted(ILogger logger, string spi, long epoch, int children);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Information,
        Message = "Leaving the cluster: handing off {Count} IKE SAs to the other members instead of deleting them")]
    public static partial void HandingOff(ILogger logger, int count);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Debug, Message = "SA replica write not acknowledged by every member ({Outcome})")]
    public static partial void ReplicaWriteIncomplete(ILogger logger, string outcome);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Warning, Message = "Malformed SA replica entry in {Key} ignored")]
    public static partial void ReplicaEntryMalformed(ILogger logger, string key);

    [LoggerMessage(EventId = 5013, Level = LogLevel.Information, Message = "Released IKE SA {Spi} to another node ({Why})")]
    public static partial void SaReleased(ILogger logger, string spi, string why);

    [LoggerMessage(EventId = 5014, Level = LogLevel.Warning, Message = "Could not adopt IKE SA {Spi}: {Reason}")]
    public static partial void SaAdoptionFailed(ILogger logger, string spi, string reason);

    [LoggerMessage(EventId = 5020, Level = LogLevel.Warning,
        Message = "Dropped a {Message} from {Sender}: {Reason} ({Suppressed} more dropped since the last report)")]
    public static partial void ClusterMessageDropped(ILogger logger, string message, string sender, string reason, int suppressed);
}

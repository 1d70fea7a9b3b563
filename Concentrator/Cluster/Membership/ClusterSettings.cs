using System.Globalization;
using System.Text;

namespace Concentrator.Cluster.Membership;

/// <summary>
/// The HOCON of a clustered node, from the <c>cluster:</c> section. HOCON rather than Akka.Hosting's builder because
/// <see cref="Hosting.Gateway"/> creates its ActorSystem synchronously without a Microsoft.Extensions.Hosting host.
/// </summary>
public static class ClusterSettings
{
    public const string SbrProvider = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster";

    public static string Hocon(ClusterConfig c)
    {
        var sb = new StringBuilder();
        sb.AppendLine("akka.actor.provider = cluster");
        sb.AppendLine("akka.loggers = [\"Akka.Hosting.Logging.LoggerFactoryLogger, Akka.Hosting\"]");
        // Bound and advertised on the same address: in Kubernetes the pod IP, which other pods reach directly; loopback for
        // a lone node (ClusterConfig.TrustProblem).
        sb.AppendLine($"akka.remote.dot-netty.tcp.hostname = {Quote(c.BindHostname)}");
        sb.AppendLine($"akka.remote.dot-netty.tcp.public-hostname = {Quote(c.BindHostname)}");
        sb.AppendLine($"akka.remote.dot-netty.tcp.port = {c.Port.ToString(CultureInfo.InvariantCulture)}");
        sb.AppendLine($"akka.remote.dot-netty.tcp.enable-ssl = {(c.TlsEnabled ? "on" : "off")}");
        // Only Akka's own protocol and the replication layer's declared cluster messages cross remoting.
        sb.AppendLine($"akka.actor.serializers.json = {Quote(TypeName(typeof(RefusingObjectSerializer)))}");
        // The run command owns SIGTERM (it deletes SAs first, then leaves); the CLR hook would race it.
        sb.AppendLine("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off");
        sb.AppendLine("akka.coordinated-shutdown.exit-clr = off");
        sb.AppendLine("akka.cluster.run-coordinated-shutdown-when-down = on");
        sb.AppendLine("akka.cluster.log-info = off");
        // SA replicas (SaReplicaActor): subscribers learn of a change within 100 ms; no durable keys, so replicated key
        // material never reaches disk.
        sb.AppendLine("akka.cluster.distributed-data.notify-subscribers-interval = 100ms");
        sb.AppendLine("akka.cluster.distributed-data.durable.keys = []");
        if (c.SplitBrainResolver == "off")
        {
            sb.AppendLine("akka.cluster.downing-provider-class = \"\"");
        }
        else
        {
            sb.AppendLine($"akka.cluster.downing-provider-class = {Quote(SbrProvider)}");
            sb.AppendLine($"akka.cluster.split-brain-resolver.active-strategy = {c.SplitBrainResolver}");
            sb.AppendLine($"akka.cluster.split-brain-resolver.stable-after = {Seconds(c.StableAfter)}");
            sb.AppendLine($"akka.cluster.split-brain-resolver.static-quorum.quorum-size = {c.QuorumSize.ToString(CultureInfo.InvariantCulture)}");
        }
        if (c.Discovery == "kubernetes")
        {
            sb.AppendLine("akka.discovery.method = kubernetes-api");
            sb.AppendLine($"akka.discovery.kubernetes-api.pod-label-selector = {Quote(c.PodLabelSelector)}");
            sb.AppendLine($"akka.management.http.hostname = {Quote(c.BindHostname)}");
            sb.AppendLine($"akka.management.http.port = {c.ManagementPort.ToString(CultureInfo.InvariantCulture)}");
            sb.AppendLine($"akka.management.cluster.bootstrap.contact-point-discovery.service-name = {Quote(ClusterConfig.SystemName)}");
            sb.AppendLine($"akka.management.cluster.bootstrap.contact-point-discovery.port-name = {Quote(ClusterConfig.ManagementPortName)}");
            sb.AppendLine("akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr = "
                + c.RequiredContactPoints.ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>"Namespace.Type, Assembly": how HOCON names a serializer class.</summary>
    public static string TypeName(Type t) => $"{t.FullName}, {t.Assembly.GetName().Name}";

    private static string Seconds(TimeSpan t) => $"{Math.Max(1, (int)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)}ms";

    /// <summary>A HOCON quoted string; config values are validated, the escaping keeps any that slip through inert.</summary>
    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}

using Akka.Event;
using Akka.Hosting;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Security;
using Concentrator.Tests.Support;
using Microsoft.Extensions.Logging;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Concentrator.Tests.Hosting;

/// <summary>The gateway's ActorSystem comes from Akka.Hosting: its actors are in the registry, Akka's own log events
/// reach the gateway's loggers at warning level and above, and disposing the gateway ends the system.</summary>
public sealed class GatewayHostingTests
{
    [Fact]
    public async Task The_supervisor_is_in_the_actor_registry_and_akka_warnings_reach_the_gateways_loggers()
    {
        var sink = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(sink).SetMinimumLevel(LogLevel.Trace));
        var gateway = Gateway.Start(new GatewayOptions
        {
            Config = ConcentratorConfig.Parse(TestGateway.ResponderYaml(), "<hosting>"),
            DataPlane = new InMemoryDataPlane(),
            Loggers = loggers,
            SystemName = "hosting",
        });
        try
        {
            Assert.Same(gateway.Supervisor, ActorRegistry.For(gateway.System).Get<IkeSaSupervisor>());
            Assert.Equal(0, await gateway.CountSasAsync());

            gateway.System.Log.Info("hosting-probe-info");
            gateway.System.Log.Warning("hosting-probe-warning {0}", 42);
            await Eventually.TrueAsync(() => sink.Lines.Any(l => l.Message.Contains("hosting-probe-warning 42") && l.Level == LogLevel.Warning),
                "Akka's warning reached the gateway's logger", 10);
            Assert.DoesNotContain(sink.Lines, l => l.Message.Contains("hosting-probe-info"));
        }
        finally
        {
            await gateway.DisposeAsync();
        }
        Assert.True(gateway.System.WhenTerminated.IsCompleted);
    }

    [Fact]
    public void An_unusable_cluster_certificate_fails_the_gateways_start_with_the_key_named()
    {
        // Akka.Hosting logs and swallows a failed start of its hosted service; the gateway must not start half-built.
        var garbage = Path.Combine(Path.GetTempPath(), $"hosting-{Guid.NewGuid():N}.p12");
        File.WriteAllText(garbage, "not a PKCS#12");
        var ca = garbage + ".ca.pem";
        File.WriteAllText(ca, "not a certificate either, but only read once the PKCS#12 was");
        try
        {
            var config = ConcentratorConfig.Parse(TestGateway.ResponderYaml() +
                $"\ncluster: {{ port: 0, tls: {{ certificate: {garbage}, cacerts: [{ca}], remote_id: \"*.cluster.test\" }} }}\n", "c.yaml");
            var error = Assert.Throws<ConfigException>(() => Gateway.Start(new GatewayOptions
            {
                Config = config, DataPlane = new InMemoryDataPlane(), Cluster = config.Cluster, SystemName = "badtls",
            }));
            Assert.Equal("cluster.tls.certificate", error.KeyPath);
            Assert.Equal("c.yaml", error.File);
        }
        finally
        {
            File.Delete(garbage);
            File.Delete(ca);
        }
    }

    [Fact]
    public void A_listen_port_in_use_fails_the_start_and_leaves_no_actor_system_holding_the_cluster_port()
    {
        using var taken = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram,
            System.Net.Sockets.ProtocolType.Udp);
        taken.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        int ikePort = ((System.Net.IPEndPoint)taken.LocalEndPoint!).Port, clusterPort = FreePorts.Tcp();
        var yaml = TestGateway.ResponderYaml().Replace("ike_port: 0", $"ike_port: {ikePort}") +
                   $"\ncluster: {{ hostname: 127.0.0.1, port: {clusterPort} }}\n";
        var config = ConcentratorConfig.Parse(yaml, "<port in use>");

        Assert.ThrowsAny<Exception>(() => Gateway.Start(new GatewayOptions
        {
            Config = config, DataPlane = new InMemoryDataPlane(), Cluster = config.Cluster, SystemName = "taken",
        }));

        // The cluster's remoting port was bound before the sockets failed; it must be free again.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, clusterPort);
        listener.Start();
        listener.Stop();
    }
}

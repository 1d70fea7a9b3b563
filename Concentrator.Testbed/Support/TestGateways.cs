using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Sa;

namespace Concentrator.Testbed.Support;

/// <summary>A gateway on 127.0.0.1 with ephemeral ports, its data plane and its event log.</summary>
public sealed class TestGateway : IAsyncDisposable
{
    private TestGateway(Gateway gateway, InMemoryDataPlane plane, ConcentratorConfig config)
    {
        Gateway = gateway;
        DataPlane = plane;
        Config = config;
        Events = EventLog.Attach(gateway.System);
    }

    public Gateway Gateway { get; }
    public InMemoryDataPlane DataPlane { get; }
    public ConcentratorConfig Config { get; }
    public EventLog Events { get; }
    public IPEndPoint Endpoint => Gateway.IkeEndpoint;

    /// <summary>Fast retransmissions so failure paths finish within a test's patience.</summary>
    public static readonly IkeTunables FastTunables = new()
    {
        RetransmitTimeout = TimeSpan.FromMilliseconds(300),
        RetransmitBase = 1.5,
        RetransmitTries = 3,
    };

    public static TestGateway Start(string yaml, AdmissionOptions? admission = null, string name = "gw") =>
        Start(ConcentratorConfig.Parse(yaml, $"<{name}>"), admission, name);

    /// <summary>From a config file, so that a reload re-reads it.</summary>
    public static TestGateway StartFile(string path, string name = "gw") => Start(ConcentratorConfig.Load(path), null, name);

    private static TestGateway Start(ConcentratorConfig config, AdmissionOptions? admission, string name)
    {
        var plane = new InMemoryDataPlane();
        var gateway = Gateway.Start(new GatewayOptions
        {
            Config = config,
            DataPlane = plane,
            Tunables = FastTunables,
            Admission = admission ?? new AdmissionOptions(),
            SystemName = name,
        });
        return new TestGateway(gateway, plane, config);
    }

    public void Initiate(string connection, IPEndPoint remote) =>
        Gateway.Initiate(Config.Connections[connection], remote);

    public ValueTask DisposeAsync() => Gateway.DisposeAsync();

    /// <summary>Responder config on loopback with the given proposals, identities and selectors.</summary>
    public static string ResponderYaml(string proposals = "aes256gcm16-prfsha256-ecp256", string esp = "aes256gcm16",
        string localTs = "10.10.0.0/16", string remoteTs = "10.200.0.0/16", string psk = "test-shared-key-0123456789") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          rw:
            proposals: [{{proposals}}]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "%any" }
            children:
              lan:
                local_ts: [{{localTs}}]
                remote_ts: [{{remoteTs}}]
                esp_proposals: [{{esp}}]
        secrets:
          rw: { secret: "{{psk}}" }
        """;

    /// <summary>Initiator config whose connection "site" targets nothing until <see cref="Initiate"/> names the remote.</summary>
    public static string InitiatorYaml(string proposals = "aes256gcm16-prfsha256-ecp256", string esp = "aes256gcm16",
        string localTs = "10.200.1.0/24", string remoteTs = "10.10.0.0/16", string psk = "test-shared-key-0123456789",
        string remoteId = "gw.test") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [{{proposals}}]
            local: { auth: psk, id: site.test }
            remote: { auth: psk, id: {{remoteId}} }
            children:
              net:
                local_ts: [{{localTs}}]
                remote_ts: [{{remoteTs}}]
                esp_proposals: [{{esp}}]
        secrets:
          site: { secret: "{{psk}}" }
        """;
}

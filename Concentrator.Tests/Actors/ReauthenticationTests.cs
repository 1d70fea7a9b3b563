using System.Net;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Actors;

/// <summary>
/// reauth_time with two children, our initiator against our responder over loopback: the new IKE SA brings the first
/// child in IKE_AUTH and the second with CREATE_CHILD_SA, and the old IKE SA (with both old children) is deleted only
/// once both replacements are installed, so neither child is ever without an SA on either side. The second child uses
/// PFS (modp4096), so its CREATE_CHILD_SA takes longer than the old IKE SA's Delete would: deleting the old SA at
/// IKE_AUTH already (as before) leaves it without an SA every time.
/// </summary>
public sealed class ReauthenticationTests
{
    private const string Psk = "test-shared-key-0123456789";

    private const string ResponderYaml = $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "%any" }
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16] }
              lan2: { local_ts: [10.11.0.0/16], remote_ts: [10.201.0.0/16], esp_proposals: [aes256gcm16-modp4096] }
        secrets:
          rw: { secret: "{{Psk}}" }
        """;

    private const string InitiatorYaml = $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [aes256gcm16-prfsha256-ecp256]
            rekey_time: 0
            reauth_time: 3s
            local: { auth: psk, id: site.test }
            remote: { auth: psk, id: gw.test }
            children:
              net: { local_ts: [10.200.0.0/16], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
              net2: { local_ts: [10.201.0.0/16], remote_ts: [10.11.0.0/16], esp_proposals: [aes256gcm16-modp4096] }
        secrets:
          site: { secret: "{{Psk}}" }
        """;

    [Fact]
    public async Task Reauthentication_deletes_the_old_ike_sa_only_after_every_child_is_replaced()
    {
        var (responder, rPlane) = Start(ResponderYaml, "resp");
        var (initiator, iPlane) = Start(InitiatorYaml, "init");
        await using var r = responder;
        await using var i = initiator;
        var iEvents = EventLog.Attach(initiator.System);

        initiator.Initiate(initiator.Options.Config.Connections["site"], responder.IkeEndpoint);
        await Eventually.TrueAsync(() => iPlane.Installed("net") == 1 && iPlane.Installed("net2") == 1 &&
                                         rPlane.Installed("lan") == 1 && rPlane.Installed("lan2") == 1, "both children up on both sides");
        var first = (Net: iPlane.Spis("net"), Net2: iPlane.Spis("net2"));
        iPlane.Arm();
        rPlane.Arm();

        // reauth_time 3 s (rand_time 0.3 s): a second IKE SA comes up, then the first is deleted with its children.
        await Eventually.TrueAsync(() => iEvents.Up.Count >= 2 && iEvents.Down.Any(d => d.Reason == CloseReason.Deleted),
            "the reauthentication replaced the IKE SA", seconds: 20);
        await Eventually.TrueAsync(() => iPlane.Installed("net") == 1 && iPlane.Installed("net2") == 1 &&
                                         rPlane.Installed("lan") == 1 && rPlane.Installed("lan2") == 1, "one SA per child again");

        Assert.Empty(iPlane.Gaps);
        Assert.Empty(rPlane.Gaps);
        Assert.DoesNotContain(iPlane.Spis("net").Single(), first.Net);
        Assert.DoesNotContain(iPlane.Spis("net2").Single(), first.Net2);
        Assert.True(iPlane.Added("net2") >= 2 && rPlane.Added("lan2") >= 2, "the second child was negotiated again");
        Assert.Equal(2, iEvents.Up.Count);
        Assert.Equal(CloseReason.Deleted, Assert.Single(iEvents.Down).Reason);
    }

    private static (Gateway Gateway, RecordingDataPlane Plane) Start(string yaml, string name)
    {
        var config = ConcentratorConfig.Parse(yaml, $"<{name}>");
        var plane = new RecordingDataPlane(new InMemoryDataPlane());
        var gateway = Gateway.Start(new GatewayOptions
        {
            Config = config,
            DataPlane = plane,
            Tunables = TestGateway.FastTunables,
            Admission = new AdmissionOptions(),
            SystemName = name,
        });
        return (gateway, plane);
    }

    /// <summary>
    /// The data plane as the IKE SA actors drive it, recording per child which SAs are installed; once armed, a
    /// deletion that leaves a child with no SA at all is a gap (its traffic would be dropped).
    /// </summary>
    private sealed class RecordingDataPlane(InMemoryDataPlane inner) : IDataPlane
    {
        private readonly object _gate = new();
        private readonly Dictionary<uint, string> _childOf = new();
        private readonly Dictionary<string, int> _added = new();
        private bool _armed;

        public InMemoryDataPlane Inner => inner;
        public List<string> Gaps { get; } = new();

        public void Arm()
        {
            lock (_gate) _armed = true;
        }

        public int Installed(string child)
        {
            lock (_gate) return _childOf.Values.Count(c => c == child);
        }

        public List<uint> Spis(string child)
        {
            lock (_gate) return _childOf.Where(kv => kv.Value == child).Select(kv => kv.Key).ToList();
        }

        public int Added(string child)
        {
            lock (_gate) return _added.GetValueOrDefault(child);
        }

        public int InstalledCount => inner.InstalledCount;
        public uint AllocateSpi() => inner.AllocateSpi();
        public void ReleaseSpi(uint spi) => inner.ReleaseSpi(spi);

        public void AddSa(ChildSaInstall sa)
        {
            inner.AddSa(sa);
            lock (_gate)
            {
                _childOf[sa.InboundSpi] = sa.Child;
                _added[sa.Child] = _added.GetValueOrDefault(sa.Child) + 1;
            }
        }

        public bool UpdateRemote(uint inboundSpi, IPEndPoint remote) => inner.UpdateRemote(inboundSpi, remote);

        public bool DeleteSa(uint inboundSpi)
        {
            lock (_gate)
            {
                if (_childOf.Remove(inboundSpi, out var child) && _armed && !_childOf.ContainsValue(child))
                {
                    Gaps.Add($"{child}: SA {inboundSpi:x8} deleted with no other SA installed");
                }
            }
            return inner.DeleteSa(inboundSpi);
        }

        public bool TryGetCounters(uint inboundSpi, out SaCounters counters) => inner.TryGetCounters(inboundSpi, out counters);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Text;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Simulation;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;
using Microsoft.Extensions.Logging;

namespace Concentrator.Tests.Security;

/// <summary>
/// Issue 8 item 6: a whole run (gateway with HTTP endpoint, a fleet of peers, a configured site-to-site
/// child, teardown) logged at Trace, traced, scraped and listed; the PSK and every SK_* and ESP key taken
/// from the live SAs must appear nowhere in it, as raw text, hex (both cases) or base64. Then every one
/// of those key arrays must be zero once its SA is gone.
/// </summary>
public sealed class SecretsExposureTests
{
    [Fact]
    public async Task No_psk_or_session_key_in_logs_spans_metrics_or_admin_output_and_keys_are_zeroed()
    {
        var sink = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(sink));
        var spans = new ConcurrentQueue<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => spans.Enqueue(a.DisplayName + " " + string.Join(";", a.TagObjects.Select(t => $"{t.Key}={t.Value}")) + " " +
                string.Join(";", a.Events.Select(e => e.Name + string.Join(",", e.Tags.Select(t => $"{t.Key}={t.Value}"))))),
        };
        ActivitySource.AddActivityListener(listener);

        var site = Gateway.Start(new GatewayOptions
        {
            Config = ConcentratorConfig.Parse(ObservedNode.BranchYaml, "<branch>"),
            DataPlane = new InMemoryDataPlane(),
            Tunables = TestGateway.FastTunables,
            SystemName = "secrets-branch",
            Loggers = loggers,
        });
        var config = ConcentratorConfig.Parse(ObservedNode.GatewayYaml(site.IkeEndpoint.Port), "<secrets>");
        var plane = new RecordingDataPlane();
        var gateway = Gateway.Start(new GatewayOptions
        {
            Config = config, DataPlane = plane, Tunables = TestGateway.FastTunables, SystemName = "secrets", Loggers = loggers,
        });
        var http = await HealthServer.StartAsync(config.Http.Listen, gateway, loggers);
        string baseUrl = http.Urls.First().TrimEnd('/');
        var fleet = PeerFleet.Start(new FleetOptions { Psk = Encoding.UTF8.GetBytes(ObservedNode.Psk), GatewayId = "gw.obs", VirtualIp = true });
        var exported = new StringBuilder();
        var ikeKeys = new List<IkeKeys>();
        var secrets = new List<(string What, byte[] Value)> { ("psk", Encoding.UTF8.GetBytes(ObservedNode.Psk)) };
        try
        {
            gateway.StartConfiguredConnections();
            Assert.Equal(3, (await fleet.EstablishAsync(gateway.IkeEndpoint, 3, TimeSpan.FromSeconds(20))).Established);
            await Eventually.TrueAsync(() => plane.InstalledCount == 4, "fleet and site children installed", 20);

            foreach (var keys in await LiveIkeKeys(gateway))
            {
                ikeKeys.Add(keys);
                foreach (var (name, k) in new[] { ("SK_d", keys.SkD), ("SK_ai", keys.SkAi), ("SK_ar", keys.SkAr), ("SK_ei", keys.SkEi),
                             ("SK_er", keys.SkEr), ("SK_pi", keys.SkPi), ("SK_pr", keys.SkPr) })
                {
                    if (k.Length > 0) secrets.Add((name, k.ToArray()));
                }
            }
            Assert.Equal(4, ikeKeys.Count);
            foreach (var install in plane.Installs)
            {
                foreach (var k in new[] { install.InboundEncryptionKey, install.InboundIntegrityKey, install.OutboundEncryptionKey, install.OutboundIntegrityKey })
                {
                    if (k.Length > 0) secrets.Add(("esp", k.ToArray()));
                }
            }
            Assert.True(secrets.Count >= 1 + 4 * 5 + 4 * 2, $"{secrets.Count} secrets collected");

            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (var path in new[] { "/metrics", "/admin/sas", "/dataplane", "/healthz", "/readyz" })
            {
                exported.Append(await client.GetStringAsync(baseUrl + path)).Append('\n');
            }
            exported.Append(await client.PostAsync(baseUrl + "/admin/initiate?child=lan", null).Result.Content.ReadAsStringAsync());
            Assert.Contains("concentrator_ike_sas", exported.ToString()); // the scrape really happened
            Assert.Contains("\"children\"", exported.ToString());

            await fleet.DeleteAllAsync(TimeSpan.FromSeconds(10));
            await gateway.ShutdownAsync(TimeSpan.FromSeconds(5));
            await Eventually.TrueAsync(() => plane.InstalledCount == 0, "every child removed");
        }
        finally
        {
            await http.DisposeAsync();
            await fleet.DisposeAsync();
            await gateway.DisposeAsync();
            await site.DisposeAsync();
        }

        var corpus = new StringBuilder(exported.ToString());
        foreach (var l in sink.Lines) corpus.Append(l.Category).Append(' ').Append(l.Message).Append(' ').Append(l.Fields).Append(' ').Append(l.Exception).Append('\n');
        foreach (var s in spans) corpus.Append(s).Append('\n');
        string text = corpus.ToString();
        Assert.True(sink.Lines.Count > 20 && !spans.IsEmpty, $"{sink.Lines.Count} log lines, {spans.Count} spans captured");
        foreach (var (what, value) in secrets)
        {
            foreach (var form in Forms(value))
            {
                Assert.False(text.Contains(form, StringComparison.Ordinal), $"{what} appears in the run's output as '{form}'");
            }
        }

        // Key material dies with its SA (DEVELOPERS.md): IKE SA keys and the data plane's ESP keys are zeroed.
        Assert.All(ikeKeys, k => Assert.True(AllZero(k.SkD, k.SkAi, k.SkAr, k.SkEi, k.SkEr, k.SkPi, k.SkPr), "an IKE SA's SK_* survived it"));
        Assert.All(plane.Installs.Where(i => plane.Deleted.Contains(i.InboundSpi)), i => Assert.True(
            AllZero(i.InboundEncryptionKey, i.InboundIntegrityKey, i.OutboundEncryptionKey, i.OutboundIntegrityKey), "an ESP SA's keys survived it"));
        Assert.True(plane.Deleted.Count >= 4);
    }

    private static IEnumerable<string> Forms(byte[] secret)
    {
        yield return Encoding.Latin1.GetString(secret);
        yield return Convert.ToHexStringLower(secret);
        yield return Convert.ToHexString(secret);
        yield return Convert.ToBase64String(secret).TrimEnd('=');
        if (secret.Length >= 12)
        {
            // A logged prefix is a leak too: the first 12 octets in every encoding.
            var head = secret[..12];
            yield return Convert.ToHexStringLower(head);
            yield return Convert.ToHexString(head);
            yield return Convert.ToBase64String(head);
        }
    }

    private static bool AllZero(params byte[][] arrays) => arrays.All(a => a.All(b => b == 0));

    /// <summary>The IKE keys of every IKE SA the gateway hosts, read from its actors (test-only internal access).</summary>
    private static async Task<List<IkeKeys>> LiveIkeKeys(Gateway gateway)
    {
        var field = typeof(IkeSaActor).GetField("_lineage", BindingFlags.Instance | BindingFlags.NonPublic)!;
        var result = new List<IkeKeys>();
        foreach (var actor in await gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5)))
        {
            var cell = (ActorCell)((ActorRefWithCell)actor).Underlying;
            var instance = typeof(ActorCell).GetProperty("Actor", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!.GetValue(cell);
            var sa = ((IkeSaLineage)field.GetValue(instance)!).Current;
            if (sa.Keys is { } keys) result.Add(keys);
        }
        return result;
    }


    /// <summary>An in-memory data plane that keeps every install (the very arrays it was given) and every deleted SPI.</summary>
    private sealed class RecordingDataPlane : IDataPlane
    {
        private readonly InMemoryDataPlane _inner = new();

        public ConcurrentQueue<ChildSaInstall> Installs { get; } = new();
        public ConcurrentBag<uint> Deleted { get; } = new();
        public int InstalledCount => _inner.InstalledCount;

        public uint AllocateSpi() => _inner.AllocateSpi();
        public void ReleaseSpi(uint spi) => _inner.ReleaseSpi(spi);

        public void AddSa(ChildSaInstall sa)
        {
            Installs.Enqueue(sa);
            _inner.AddSa(sa);
        }

        public bool UpdateRemote(uint inboundSpi, IPEndPoint remote) => _inner.UpdateRemote(inboundSpi, remote);

        public bool DeleteSa(uint inboundSpi)
        {
            bool deleted = _inner.DeleteSa(inboundSpi);
            if (deleted) Deleted.Add(inboundSpi);
            return deleted;
        }

        public bool TryGetCounters(uint inboundSpi, out SaCounters counters) => _inner.TryGetCounters(inboundSpi, out counters);
        
        public SaRekeyHint GetRekeyHint(uint inboundSpi) => _inner.GetRekeyHint(inboundSpi);
    }
}

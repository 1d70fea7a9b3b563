using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.Ipsec;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa;
using Concentrator.Testbed.Interop;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;
using Concentrator.Tests.Telemetry;
using static Concentrator.Tests.Ike.Sa.CertificateAuthTests;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// OCSP in IKE_AUTH against a real responder: Debian's <c>openssl ocsp</c> on loopback (an index with a good and a revoked
/// client, a delegated responder certificate with id-kp-OCSPSigning), an IKE SA pair in process with the gateway's
/// <c>authorities</c> pointing at it; and loopback sockets that refuse or never answer, for remote.revocation.
/// </summary>
public sealed class OcspResponderTests(OcspResponderTests.Responder responder) : IClassFixture<OcspResponderTests.Responder>
{
    /// <summary>The PKI (root, intermediate, gateway, clients, the responder's certificate) and one openssl ocsp for the class.</summary>
    public sealed class Responder : IAsyncLifetime
    {
        public TestPki Files { get; } = new();
        public Issued Root { get; private set; } = null!;
        public Issued Intermediate { get; private set; } = null!;
        public Uri Url { get; private set; } = null!;
        private BackgroundProcess? _openssl;

        public string Cert(string name) => Path.Combine(Files.Dir, name + ".pem");
        public string Key(string name) => Path.Combine(Files.Dir, name + ".key");

        public async Task InitializeAsync()
        {
            Assert.True(Command.Exists("openssl"), "openssl is missing (scripts/install-deps.sh)");
            Root = Files.Ca("C=CH, O=Test, CN=OCSP Test Root", TestKey.Rsa2048);
            Intermediate = Files.Ca("C=CH, O=Test, CN=OCSP Test Intermediate", TestKey.Rsa2048, Root);
            Write("root", Root);
            Write("im", Intermediate);
            Write("gw", Files.EndEntity("C=CH, O=Test, CN=gw.test", TestKey.Rsa2048, Intermediate, dns: ["gw.test"]));
            Write("ocsp", Files.EndEntity("C=CH, O=Test, CN=OCSP Responder", TestKey.Rsa2048, Intermediate, eku: ["1.3.6.1.5.5.7.3.9"]));
            var carol = Write("carol", Files.EndEntity("C=CH, O=Test, CN=carol", TestKey.EcdsaP256, Intermediate, dns: ["carol.test"]));
            var gone = Write("gone", Files.EndEntity("C=CH, O=Test, CN=gone", TestKey.EcdsaP256, Intermediate, dns: ["gone.test"]));
            var stranger = Write("stranger", Files.EndEntity("C=CH, O=Test, CN=stranger", TestKey.EcdsaP256, Intermediate, dns: ["stranger.test"]));
            _ = stranger; // issued by the intermediate but not in the index: openssl answers unknown

            var index = Path.Combine(Files.Dir, "index.txt");
            await File.WriteAllTextAsync(index, IndexLine('V', carol, null) + IndexLine('R', gone, DateTime.UtcNow.AddHours(-3)));
            var port = new TaskCompletionSource<int>();
            _openssl = BackgroundProcess.Start("openssl",
                ["ocsp", "-index", index, "-port", "0", "-rsigner", Cert("ocsp"), "-rkey", Key("ocsp"), "-CA", Cert("im"), "-nmin", "60"],
                Path.Combine(Files.Dir, "ocsp.out"), Path.Combine(Files.Dir, "ocsp.err"));
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                var match = Regex.Match(_openssl.ReadStdout() + _openssl.ReadStderr(), @"ACCEPT \S*:(\d+)");
                if (match.Success)
                {
                    Url = new Uri($"http://127.0.0.1:{match.Groups[1].Value}/");
                    return;
                }
                Assert.False(_openssl.HasExited, $"openssl ocsp exited: {_openssl.ReadStderr()}");
                await Task.Delay(50);
            }
            Assert.Fail($"openssl ocsp did not listen: {_openssl.ReadStdout()} {_openssl.ReadStderr()}");
        }

        /// <summary>What openssl ocsp's index holds: status, expiry, revocation date, serial as BN_bn2hex writes it, file, subject.</summary>
        private static string IndexLine(char status, Issued issued, DateTime? revoked)
        {
            var serial = issued.Certificate.SerialNumberBytes.ToArray().SkipWhile(b => b == 0).ToArray();
            return string.Join('\t', status.ToString(), issued.Certificate.NotAfter.ToUniversalTime().ToString("yyMMddHHmmss") + "Z",
                revoked is { } at ? at.ToString("yyMMddHHmmss") + "Z,keyCompromise" : "", Convert.ToHexString(serial), "unknown",
                "/C=CH/O=Test/CN=" + issued.Subject.Split("CN=")[1]) + "\n";
        }

        private Issued Write(string name, Issued issued)
        {
            Files.WriteCert(name + ".pem", issued);
            Files.WriteKey(name + ".key", issued);
            return issued;
        }

        public async Task DisposeAsync()
        {
            if (_openssl is not null) await _openssl.DisposeAsync();
            Files.Dispose();
        }
    }

    private string Gateway(Uri? ocsp, string revocation = "relaxed", Uri? second = null, string crls = "") => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        {{crls}}
        {{(ocsp is null ? "" : $"authorities:\n  im:\n    cacert: {responder.Cert("im")}\n    ocsp_uris: [\"{ocsp}\"{(second is null ? "" : $", \"{second}\"")}]")}}
        connections:
          rw:
            local: { auth: pubkey, certs: [{{responder.Cert("gw")}}, {{responder.Cert("im")}}], id: gw.test }
            remote: { auth: pubkey, cacerts: [{{responder.Cert("root")}}], revocation: {{revocation}} }
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          private-gw: { file: {{responder.Key("gw")}} }
        """;

    private string Client(string name) => $$"""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        connections:
          site:
            remote_addrs: [127.0.0.1]
            local: { auth: pubkey, certs: [{{responder.Cert(name)}}, {{responder.Cert("im")}}], id: "{{name}}.test" }
            remote: { auth: pubkey, cacerts: [{{responder.Cert("root")}}], id: gw.test }
            children:
              net: { local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] }
        secrets:
          private-me: { file: {{responder.Key(name)}} }
        """;

    private static ConcentratorConfig Parse(string yaml) => ConcentratorConfig.Parse(yaml, "<r>");

    private static Run Connect(ConcentratorConfig gateway, string client) => Handshake(gateway, ConcentratorConfig.Parse(client, "<i>"));

    private static double Requests(Run run, string outcome) =>
        Scrape(run.Responder).Sum("concentrator_ocsp_requests_total", ("outcome", outcome));

    [Fact]
    public void Openssl_ocsp_says_revoked_and_the_client_is_refused_and_a_good_client_is_accepted()
    {
        var gateway = Parse(Gateway(responder.Url));
        var gone = Connect(gateway, Client("gone"));
        AssertRefused(gone, "revoked");
        Assert.Equal(1, Requests(gone, "revoked"));
        var carol = Connect(gateway, Client("carol"));
        AssertEstablished(carol);
        Assert.Empty(carol.R.Seen.OfType<RevocationUnverified>());
        Assert.Equal(1, Requests(carol, "good"));
        // The same revoked client without the authority: nothing else knows it is revoked.
        AssertEstablished(Connect(Parse(Gateway(null)), Client("gone")));
    }

    [Fact]
    public void Good_and_revoked_answers_are_cached_until_next_update()
    {
        var gateway = Parse(Gateway(responder.Url));
        Assert.Equal(1, Requests(Connect(gateway, Client("carol")), "good"));
        Assert.Equal(1, Requests(Connect(gateway, Client("gone")), "revoked"));
        var again = Connect(gateway, Client("carol"));
        AssertEstablished(again);
        Assert.Equal(0, Scrape(again.Responder).Sum("concentrator_ocsp_requests_total"));
        Assert.Equal(1, Scrape(again.Responder).Sum("concentrator_ocsp_cache_hits_total"));
        var goneAgain = Connect(gateway, Client("gone"));
        AssertRefused(goneAgain, "revoked");
        Assert.Equal(1, Scrape(goneAgain.Responder).Sum("concentrator_ocsp_cache_hits_total"));
    }

    [Fact]
    public void An_unknown_certificate_follows_remote_revocation()
    {
        var relaxed = Connect(Parse(Gateway(responder.Url)), Client("stranger"));
        AssertEstablished(relaxed);
        Assert.Equal(1, Requests(relaxed, "unknown"));
        var ifuri = Connect(Parse(Gateway(responder.Url, "ifuri")), Client("stranger"));
        AssertRefused(ifuri, "revocation_unknown");
        Assert.Equal(1, Requests(ifuri, "unknown"));
    }

    [Fact]
    public void A_refused_connection_is_unreachable_and_follows_remote_revocation()
    {
        var closed = new Uri($"http://127.0.0.1:{FreePorts.Tcp()}/");
        var relaxed = Connect(Parse(Gateway(closed)), Client("carol"));
        AssertEstablished(relaxed);
        Assert.Equal(1, Requests(relaxed, "unreachable"));
        Assert.Contains("Unreachable", Assert.Single(relaxed.R.Seen.OfType<RevocationUnverified>()).Detail);
        AssertRefused(Connect(Parse(Gateway(closed, "ifuri")), Client("carol")), "revocation_unknown");
        // A current CRL of the intermediate settles what the responder could not: no warning, and ifuri is satisfied.
        var crl = responder.Files.WriteCrl("im.crl", responder.Intermediate, []);
        var withCrl = Connect(Parse(Gateway(closed, "ifuri", crls: $"crls: [{crl}]")), Client("carol"));
        AssertEstablished(withCrl);
        Assert.Equal(1, Requests(withCrl, "unreachable"));
        Assert.Empty(withCrl.R.Seen.OfType<RevocationUnverified>());
        AssertRefused(Connect(Parse(Gateway(closed, "strict")), Client("carol")), "revocation_unknown");
    }

    /// <summary>A loopback listener that accepts HTTP connections and never answers; its URL.</summary>
    private static Uri Silent(TcpListener silent, List<Socket> held)
    {
        silent.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var socket = await silent.AcceptSocketAsync();
                    lock (held) held.Add(socket);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        });
        return new Uri($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/");
    }

    [Fact]
    public void Two_silent_responders_cost_one_timeout_in_all()
    {
        using var first = new TcpListener(IPAddress.Loopback, 0);
        using var second = new TcpListener(IPAddress.Loopback, 0);
        var held = new List<Socket>();
        var gateway = Parse(Gateway(Silent(first, held), "ifuri", Silent(second, held)));
        var clock = Stopwatch.StartNew();
        var run = Connect(gateway, Client("carol"));
        clock.Stop();
        AssertRefused(run, "revocation_unknown");
        Assert.Equal(1, Requests(run, "unreachable"));
        Assert.Equal(1, Requests(run, "out_of_time"));
        Assert.InRange(clock.Elapsed, OcspChecker.DefaultTimeout, OcspChecker.DefaultTimeout + TimeSpan.FromSeconds(1.5));
        first.Stop();
        second.Stop();
        lock (held) held.ForEach(s => s.Dispose());
    }

    [Fact]
    public void A_responder_that_never_answers_costs_the_timeout_once_per_back_off()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        var held = new List<Socket>();
        var url = Silent(silent, held);
        var gateway = Parse(Gateway(url, "ifuri"));
        var clock = Stopwatch.StartNew();
        var run = Connect(gateway, Client("carol"));
        clock.Stop();
        AssertRefused(run, "revocation_unknown");
        Assert.Equal(1, Requests(run, "unreachable"));
        Assert.InRange(clock.Elapsed, OcspChecker.DefaultTimeout, OcspChecker.DefaultTimeout + TimeSpan.FromSeconds(1.5));
        // Another peer within the back-off does not wait: the responder is not asked.
        clock.Restart();
        var next = Connect(gateway, Client("stranger"));
        clock.Stop();
        AssertRefused(next, "revocation_unknown");
        Assert.Equal(0, Requests(next, "unreachable"));
        Assert.Equal(1, Requests(next, "responder_down"));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        // The same peer again: its answer of a moment ago (unreachable) is reused, as any answer for the back-off.
        clock.Restart();
        var again = Connect(gateway, Client("carol"));
        clock.Stop();
        AssertRefused(again, "revocation_unknown");
        Assert.Equal(0, Scrape(again.Responder).Sum("concentrator_ocsp_requests_total"));
        Assert.Equal(1, Scrape(again.Responder).Sum("concentrator_ocsp_cache_hits_total"));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        silent.Stop();
        lock (held) held.ForEach(s => s.Dispose());
    }

    /// <summary>
    /// Through a whole gateway in process (supervisor, SA actor, effect runner): while the OCSP request of a peer's
    /// IKE_AUTH hangs on a silent responder, the SA's actor answers other messages at once; the IKE_AUTH is refused
    /// (revocation_unknown under ifuri) when the request times out.
    /// </summary>
    [Fact]
    public async Task The_sa_actor_stays_free_while_its_ocsp_request_waits()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        var held = new List<Socket>();
        var url = Silent(silent, held);
        await using var gateway = TestGateway.Start(Gateway(url, "ifuri"), name: "gw");
        await using var peer = TestGateway.Start(Client("carol"), name: "peer");
        peer.Initiate("site", gateway.Endpoint);
        await Eventually.TrueAsync(() => { lock (held) return held.Count > 0; }, "the gateway's OCSP request reached the silent responder", 5);

        var sa = (await gateway.Gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5))).Single();
        var clock = Stopwatch.StartNew();
        var info = await sa.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(1));
        clock.Stop();
        Assert.Equal(IkeSaState.Connecting, info.State);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromMilliseconds(500));

        // The test peer's fast retransmissions give up before 3 s; the gateway's answer is what is checked.
        await Eventually.TrueAsync(() => gateway.Events.Down.Any(d => d.Reason == CloseReason.AuthFailed), "the gateway refused the peer after the timeout", 10);
        var metrics = new MetricsText(await MetricsEndpointTests.ExportAsync(gateway.Gateway.Metrics.Registry));
        Assert.Equal(1, metrics.Sum("concentrator_ike_auth_failures_total", ("role", "responder"), ("reason", "revocation_unknown")));
        Assert.Equal(1, metrics.Sum("concentrator_ocsp_requests_total", ("outcome", "unreachable")));
        silent.Stop();
        lock (held) held.ForEach(s => s.Dispose());
    }

    /// <summary>IKE_AUTH waits twice (the OCSP answer, then unique keep's look for duplicates) and is answered once.</summary>
    [Fact]
    public async Task An_auth_deferred_for_ocsp_defers_again_for_unique_keep_and_a_second_login_is_refused()
    {
        string keep = Gateway(responder.Url).Replace("    local: { auth: pubkey,", "    unique: keep\n    local: { auth: pubkey,");
        string client = Client("carol").Replace("    remote_addrs:", "    unique: never\n    remote_addrs:");
        await using var gateway = TestGateway.Start(keep, name: "gw");
        await using var first = TestGateway.Start(client, name: "first");
        await using var second = TestGateway.Start(client, name: "second");

        first.Initiate("site", gateway.Endpoint);
        await Eventually.TrueAsync(() => first.Events.Up.Count == 1 && gateway.DataPlane.InstalledCount == 1, "carol's first login is up", 10);
        second.Initiate("site", gateway.Endpoint);
        await Eventually.TrueAsync(() => second.Events.Down.Count == 1, "carol's second login was answered", 10);
        Assert.Equal(CloseReason.AuthFailed, second.Events.Down.Single().Reason);
        var metrics = new MetricsText(await MetricsEndpointTests.ExportAsync(gateway.Gateway.Metrics.Registry));
        Assert.Equal(1, metrics.Sum("concentrator_ocsp_requests_total", ("outcome", "good")));
        Assert.Equal(1, metrics.Sum("concentrator_ike_auth_failures_total", ("role", "responder"), ("reason", "unique_keep")));
        Assert.Empty(first.Events.Down);
    }

    /// <summary>The unique check's answer resumes IKE_AUTH without checking the certificate again: a second check would ask
    /// the cache (or, after the entry expired, the responder itself, on the SA's thread) and count the peer twice.</summary>
    [Fact]
    public async Task A_login_resumed_by_the_unique_check_is_not_verified_again()
    {
        var closed = new Uri($"http://127.0.0.1:{FreePorts.Tcp()}/");
        string keep = Gateway(closed).Replace("    local: { auth: pubkey,", "    unique: keep\n    local: { auth: pubkey,");
        Assert.Contains("unique: keep", keep);
        await using var gateway = TestGateway.Start(keep, name: "gw");
        // Without INITIAL_CONTACT, so the gateway looks for duplicates (deferred) instead of replacing them.
        await using var peer = TestGateway.Start(Client("carol").Replace("    remote_addrs:", "    unique: never\n    remote_addrs:"), name: "peer");
        peer.Initiate("site", gateway.Endpoint);
        await Eventually.TrueAsync(() => peer.Events.Up.Count == 1 && gateway.DataPlane.InstalledCount == 1, "carol is up, revocation unverified", 10);
        var metrics = new MetricsText(await MetricsEndpointTests.ExportAsync(gateway.Gateway.Metrics.Registry));
        Assert.Equal(1, metrics.Sum("concentrator_ocsp_requests_total", ("outcome", "unreachable")));
        Assert.Equal(1, metrics.Sum("concentrator_ocsp_cache_hits_total")); // the resumed OCSP deferral reads the answer it fetched
    }

    [Fact]
    public void A_certificates_aia_responder_is_asked_only_under_strict_or_ifuri()
    {
        var aia = new X509AuthorityInformationAccessExtension([responder.Url.ToString()], null);
        var issued = responder.Files.EndEntity("C=CH, O=Test, CN=aia", TestKey.EcdsaP256, responder.Intermediate, dns: ["aia.test"], extensions: [aia]);
        responder.Files.WriteCert("aia.pem", issued);
        responder.Files.WriteKey("aia.key", issued);
        // Not in openssl's index: unknown. Under relaxed the AIA is not contacted at all.
        var relaxed = Connect(Parse(Gateway(null)), Client("aia"));
        AssertEstablished(relaxed);
        Assert.Equal(0, Scrape(relaxed.Responder).Sum("concentrator_ocsp_requests_total"));
        var ifuri = Connect(Parse(Gateway(null, "ifuri")), Client("aia"));
        AssertRefused(ifuri, "revocation_unknown");
        Assert.Equal(1, Requests(ifuri, "unknown"));
    }
}

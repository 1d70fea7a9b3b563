namespace Concentrator.Benchmarks;

/// <summary>The handshake suite's conditions and tables.</summary>
public static partial class HandshakeSuite
{
    /// <summary>Issue 17: the concentrator responder's CPU per IKE+Child setup at most this fraction of strongSwan's.</summary>
    public const double CpuRatioTarget = 0.5;

    /// <summary>Issue 17: the first <see cref="ColdSetups"/> setups after a start cost at most this multiple of the steady state.</summary>
    public const double ColdRatioTarget = 2.0;

    private static void Describe(Report report, int peers, int rounds, int sessions, int nsRounds)
    {
        report.Conditions.Add($"Every setup is one IKE SA + one Child SA: IKE {Ike}, ESP {Esp}, PSK (certificate rows below), a distinct identity " +
                              "and inner /32 per setup; every SA is deleted between rounds.");
        report.Conditions.Add("**Responder CPU per setup** (the headline) = utime + stime of the responder process (/proc/PID/stat, sampled every " +
                              $"{CpuSampler.Interval.TotalMilliseconds:F0} ms and interpolated at the window's edges; the kernel counts in 10 ms ticks) over a " +
                              "round's window, from its first initiation to its last setup up, divided by the setups established in it. Generator " +
                              "CPU per setup is the same for the initiating process, for context: both share the machine's cores with the responder.");
        report.Conditions.Add($"Generators of the namespace rows, in the peer namespace. **fleet**: the demo's PeerFleet (`Concentrator loadtest`, a child " +
                              $"process of this program; identities peer-N.fleet), {peers} peers per round all started at once (saturation), after a " +
                              "10-peer warm-up; the round's window is the fleet's own (wall clock, reported in its JSON). **charon**: a stock strongSwan " +
                              "5.9.8 charon (kernel-libipsec, the harness's build; Debian's packages do not build the load-tester plugin) driven over " +
                              $"vici: one connection per peer (identities peer-N.swan, each peer's inner /32 on the peer namespace's loopback), each " +
                              $"`initiate` (timeout -1) a distinct IKE SA, at most {CharonWindow} initiated and not yet up at a time; the initiations " +
                              "go one vici request after another, so the generator's own pace bounds the rate (its rows are not saturation figures " +
                              "like the fleet's, and their latency is lower); a setup is up at charon's child-updown event (its Child SA installed " +
                              "in libipsec); first retransmission after 4 s (as the fleet's); the Deletes between rounds come from `terminate`. " +
                              "Latency = initiation to Child SA up, per setup.");
        report.Conditions.Add($"Sessions: each namespace session builds a fresh testbed and starts its responder; its first {ColdSetups} setups (all in flight " +
                              "at once, no warm-up) are the **cold** round, then the steady rounds. cold / steady = median over sessions of the cold " +
                              "round's responder CPU per setup / median over all steady rounds'. PSK namespace rows: " +
                              $"{sessions} session(s) per configuration of {nsRounds} steady round(s) of {peers} setups, interleaved (for each session: " +
                              "fleet (a'), fleet (b), charon (a'), charon (b)); certificate rows: one session of " +
                              $"{rounds} round(s). In-process rows (a) and (a-c): {rounds} round(s) after a 10-peer warm-up, no CPU column (the " +
                              "fleet shares the process). Figures are medians over rounds.");
        report.Conditions.Add($"Equal log levels: the concentrator logs at `{ResponderLogLevel}` (JSON lines to a file; its per-setup events are debug, so a " +
                              "successful setup writes none), charon's file log at level 0 for every group (its IKE_SA ... established and CHILD_SA ... " +
                              "established lines per setup; -1 would silence failures too), syslog off; the lines each wrote per setup are measured in the charon-generator rows " +
                              "(column responder log lines/setup).");
        report.Conditions.Add("Both responders install every Child SA on a TUN: the concentrator runs its Linux data plane (`tunnel: { type: tun }`, " +
                              "device ipsec0): the SA in its SA table and a route for the peer's /32 on the TUN; charon's kernel-libipsec installs the SAs " +
                              "and policies in its userspace IPsec stack with a route per Child SA via its TUN (install_routes = yes), encap = yes. " +
                              "kernel-libipsec takes that route's source from a local address inside the local TS and refuses the Child SA " +
                              $"(TS_UNACCEPTABLE) without one, so the gateway namespace has {LanLocal}/32 on its loopback. Column responder Child " +
                              "SAs/setup counts the Child SAs each responder installed (the concentrator's concentrator_child_sas_created_total, charon's " +
                              "child-updown events over vici) per setup established: a run with fewer fails, because an initiator counts its IKE " +
                              "SA up even when the Child SA was refused.");
        report.Conditions.Add("Admission: cookies off on both responders (cookie_threshold = 0, cookie_threshold_ip = 0), the concentrator's half-open cap at its default 5000; charon " +
                              "has them off because charon 5.9's cookie check underflows when its random secret offset lands within " +
                              "10 s of the uptime, and then rejects every cookie until restart (seen on freshly booted CI machines); " +
                              "block_threshold (5 half-open SAs per source IP, default) is raised, because every " +
                              "simulated peer shares one source address.");
        report.Conditions.Add("(a-c): as (a), but the responder is one of three cluster members in this process (Akka remoting on loopback); the " +
                              "other two receive every SA's snapshot, so their work (decoding, indexing) runs on the same 2 cores: on separate " +
                              "machines replication would cost the responder less than the ratio shows.");
        report.Conditions.Add("Rows with -rsa3072 and -ecdsa256: as (a') and (b) with the fleet, but both ends authenticate with certificates (auth pubkey, " +
                              "send_certreq yes, send_cert ifasked) instead of the PSK. One PKI per key type made by strongSwan's pki, used " +
                              "by both responders' rows: a self-signed root CA, the responder's certificate (subjectAltName " + GatewayId + ", " +
                              "serverAuth) issued by it, all keys RSA-3072 or ECDSA P-256; the fleet (loadtest --ca --issuer --issuer-key " +
                              "--peer-key) issues each peer a certificate for its identity from the root, over one shared key of the same " +
                              "type, before the rounds. Per setup each responder verifies one chain and one AUTH signature and makes one; " +
                              "RSA signatures are RFC 7427 PKCS#1 v1.5 with SHA-256 on both responders. Ratios compare rows of the same " +
                              "authentication. Skip rows with --skip ID,... (or pick them with --only).");
    }

    /// <summary>The strongSwan row a row compares with: the same generator and authentication; the in-process rows against the fleet's PSK row.</summary>
    private static string SwanIdFor(string id) => id.StartsWith("ns-", StringComparison.Ordinal) ? "ns-swan" + id["ns-ours".Length..] : "ns-swan";

    private static void Tabulate(Report report, List<Row> rows)
    {
        // Rows in a fixed order whatever the interleaving: in-process, then each namespace pair.
        var order = new List<string> { "loopback", "cluster", "ns-ours-charon", "ns-swan-charon", "ns-ours", "ns-swan" };
        foreach (var auth in Auth.All.Where(a => a.Certificates)) order.AddRange(["ns-ours" + auth.Suffix, "ns-swan" + auth.Suffix]);
        rows = rows.OrderBy(r => order.IndexOf(r.Id)).ToList();

        var headline = report.AddTable("Headline: responder CPU per IKE+Child setup (ms, median of rounds)", "generator", "authentication",
            "(a') concentrator", "(b) strongSwan", "ours / strongSwan", "target", "met");
        var table = report.AddTable("Results", "id", "responder", "generator", "where", "peers/round", "established", "responder CPU ms/setup",
            "CPU vs strongSwan (b)", "generator CPU ms/setup", $"cold: first {ColdSetups}, responder CPU ms/setup", "cold / steady", "setups/s",
            "p50 ms", "p99 ms", "setups/s vs strongSwan (b)", "rounds (responder CPU ms/setup)", "rounds (setups/s)",
            "initiator retransmits per round", "responder log lines/setup", "responder Child SAs/setup");
        foreach (var row in rows)
        {
            var r = row.Median;
            var swan = rows.FirstOrDefault(x => x.Id == SwanIdFor(row.Id))?.Median;
            bool self = row.Id == SwanIdFor(row.Id);
            table.Add(row.Id, row.Name, row.Generator, row.Where, r.Requested.ToString(), r.Established.ToString(), Stats.F(r.ResponderCpuMs, 3),
                self ? "1.00" : Stats.F(r.ResponderCpuMs / (swan?.ResponderCpuMs ?? double.NaN)), Stats.F(r.GeneratorCpuMs, 3),
                Stats.F(row.ColdCpuMs, 3), Stats.F(row.ColdRatio), Stats.F(r.SetupsPerSecond, 0), Stats.F(r.P50Ms, 1), Stats.F(r.P99Ms, 1),
                self ? "1.00" : Stats.F(r.SetupsPerSecond / (swan?.SetupsPerSecond ?? double.NaN)),
                string.Join(", ", row.Rounds.Select(x => Stats.F(x.ResponderCpuMs, 3))),
                string.Join(", ", row.Rounds.Select(x => Stats.F(x.SetupsPerSecond, 0))),
                string.Join(", ", row.Rounds.Select(x => x.Retransmits < 0 ? "n/a" : x.Retransmits.ToString())),
                Stats.F(Stats.Median(row.Sessions.Select(s => s.LogLinesPerSetup)), 2),
                Stats.F(Stats.Median(row.Sessions.Select(s => s.ChildSasPerSetup)), 2));
            foreach (var x in row.Sessions.SelectMany(s => s.Rounds.Append(s.Cold!)).Where(x => x is not null && x.Established < x.Requested))
                report.Notes.Add($"{row.Id}: {x.Requested - x.Established} of {x.Requested} setups of a round did not come up{(x.Failures.Length > 0 ? ": " + x.Failures : "")}.");
        }

        var targets = report.AddTable("Targets (issue 17)", "target", "measured", "threshold", "met");
        foreach (var (suffix, generator) in new[] { ("-charon", "strongSwan charon initiator"), ("", "fleet initiator") })
        {
            foreach (var auth in Auth.All)
            {
                var ours = rows.FirstOrDefault(x => x.Id == "ns-ours" + auth.Suffix + suffix);
                var swan = rows.FirstOrDefault(x => x.Id == "ns-swan" + auth.Suffix + suffix);
                if (ours is null && swan is null) continue;
                double ratio = (ours?.Median.ResponderCpuMs ?? double.NaN) / (swan?.Median.ResponderCpuMs ?? double.NaN);
                headline.Add(generator, auth.Label, Stats.F(ours?.Median.ResponderCpuMs ?? double.NaN, 3), Stats.F(swan?.Median.ResponderCpuMs ?? double.NaN, 3),
                    Stats.F(ratio), auth.Certificates ? "(context)" : $"≤ {Stats.F(CpuRatioTarget)}", auth.Certificates ? "" : Met(ratio, CpuRatioTarget));
                if (auth.Certificates) continue;
                targets.Add($"responder CPU per setup, ours / strongSwan, {generator}, PSK", Stats.F(ratio), $"≤ {Stats.F(CpuRatioTarget)}", Met(ratio, CpuRatioTarget));
                double cold = ours?.ColdRatio ?? double.NaN;
                targets.Add($"cold start, ours: first {ColdSetups} setups / steady state, responder CPU per setup, {generator}", Stats.F(cold),
                    $"≤ {Stats.F(ColdRatioTarget)}", Met(cold, ColdRatioTarget));
            }
        }

        Table? pairRatios = null;
        foreach (var row in rows.Where(r => r.Id.StartsWith("ns-ours", StringComparison.Ordinal)))
        {
            var swan = rows.FirstOrDefault(x => x.Id == SwanIdFor(row.Id));
            if (swan is null) continue;
            var (o, s) = (row.Median, swan.Median);
            pairRatios ??= report.AddTable("Ratios (same generator, same link)", "ratio", "value");
            string suffix = row.Id["ns-ours".Length..];
            string label = Auth.All.FirstOrDefault(a => a.Certificates && suffix.StartsWith(a.Suffix, StringComparison.Ordinal))?.Label is { } l ? ", " + l : "";
            if (suffix.EndsWith("-charon", StringComparison.Ordinal)) label += ", strongSwan initiator";
            pairRatios.Add($"responder CPU per setup ours/strongSwan: (a') / (b){label}", Stats.F(o.ResponderCpuMs / s.ResponderCpuMs));
            pairRatios.Add($"setups/s ours/strongSwan: (a') / (b){label}", Stats.F(o.SetupsPerSecond / s.SetupsPerSecond));
            pairRatios.Add($"p50 latency ours/strongSwan{label}", Stats.F(o.P50Ms / s.P50Ms));
            pairRatios.Add($"p99 latency ours/strongSwan{label}", Stats.F(o.P99Ms / s.P99Ms));
        }

        report.Notes.Add("setups/s is bounded by the slowest setup of a round: a few whose IKE_SA_INIT or IKE_AUTH was lost or dropped wait " +
                         "for the initiator's retransmission (the first after 4 s with both generators), which shows as a p99 of seconds and few " +
                         "setups/s; the per-round columns show when that happened. The responder's CPU per setup is the steadier figure.");
        report.Notes.Add("Generator and responder share the machine's cores: setups/s and latency include the generator's own cost (one ECDH " +
                         "and AEAD per setup as well), equally for both responders; the CPU per setup counts the responder process alone.");
    }

    private static string Met(double measured, double threshold) => double.IsNaN(measured) ? "not measured" : measured <= threshold ? "met" : "missed";
}

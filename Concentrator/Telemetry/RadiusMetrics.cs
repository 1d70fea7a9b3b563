using Prometheus;

namespace Concentrator.Telemetry;

/// <summary>Why a datagram from a RADIUS server's socket was dropped: the <c>reason</c> label of
/// <c>concentrator_radius_dropped_responses_total</c>.</summary>
public enum RadiusDropReason
{
    /// <summary>Not from the server's address and port.</summary>
    Source = 0,
    Malformed,
    /// <summary>Its Identifier matches no outstanding request (late, duplicate or forged).</summary>
    UnknownId,
    BadAuthenticator,
    BadMessageAuthenticator,
    /// <summary>A code that does not answer the request (Accounting-Response to an Access-Request, ...).</summary>
    UnexpectedCode,
}

/// <summary>
/// RADIUS client families. The <c>server</c> label is a configured server name (charon.plugins.eap-radius.servers),
/// so its values are bounded by the configuration.
/// </summary>
public sealed class RadiusMetrics
{
    private readonly Histogram _roundTrip;
    private readonly Counter _timeouts;
    private readonly Counter _requests;
    private readonly Counter.Child[] _dropped;
    private readonly Gauge _backlog;
    private readonly Counter _accountingDropped;

    internal RadiusMetrics(MetricFactory f)
    {
        _roundTrip = f.CreateHistogram("concentrator_radius_round_trip_seconds",
            "Time from sending a RADIUS request (its first transmission) to its verified response, by server and kind (auth, acct).",
            new HistogramConfiguration
            {
                LabelNames = ["server", "kind"],
                Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            });
        _timeouts = f.CreateCounter("concentrator_radius_timeouts_total",
            "RADIUS requests a server never answered after every retransmission (the next server is tried), by server and kind.",
            "server", "kind");
        _requests = f.CreateCounter("concentrator_radius_requests_total", "RADIUS requests sent (first transmissions), by server and kind.",
            "server", "kind");
        var dropped = f.CreateCounter("concentrator_radius_dropped_responses_total",
            "Datagrams on the RADIUS client's sockets that were dropped, by reason.", "reason");
        _dropped = Enum.GetValues<RadiusDropReason>().Select(r => dropped.WithLabels(LabelValues.Snake(r.ToString()))).ToArray();
        _backlog = f.CreateGauge("concentrator_radius_accounting_backlog",
            "Accounting requests (Start, Interim-Update, Stop) waiting for a server's Accounting-Response.");
        _accountingDropped = f.CreateCounter("concentrator_radius_accounting_dropped_total",
            "Accounting requests given up: the backlog was full, or no server answered after every retransmission.");
    }

    /// <summary>Creates every configured server's series at zero, so dashboards and alerts see them before the first request.</summary>
    public void BindServers(IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            foreach (var kind in new[] { "auth", "acct" })
            {
                _roundTrip.WithLabels(name, kind);
                _timeouts.WithLabels(name, kind);
                _requests.WithLabels(name, kind);
            }
        }
    }

    public void RoundTrip(string server, string kind, TimeSpan elapsed) => _roundTrip.WithLabels(server, kind).Observe(elapsed.TotalSeconds);
    public void Timeout(string server, string kind) => _timeouts.WithLabels(server, kind).Inc();
    public void Request(string server, string kind) => _requests.WithLabels(server, kind).Inc();
    public void Dropped(RadiusDropReason reason) => _dropped[(int)reason].Inc();
    public void AccountingBacklog(int count) => _backlog.Set(count);
    public void AccountingDropped() => _accountingDropped.Inc();

    public double DroppedCount(RadiusDropReason reason) => _dropped[(int)reason].Value;
    public double TimeoutCount(string server, string kind) => _timeouts.WithLabels(server, kind).Value;
    public double RequestCount(string server, string kind) => _requests.WithLabels(server, kind).Value;
    public double Backlog => _backlog.Value;
}

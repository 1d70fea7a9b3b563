using System.Diagnostics;
using System.Net;
using Concentrator.Ipsec;

namespace Concentrator.Telemetry;

/// <summary>
/// Spans of the IKE protocol: "IKE SA establishment" (parent, from the first IKE_SA_INIT to
/// established or failed) and one span per exchange. Attributes name the exchange, role, outcome,
/// chosen proposal, connection and peer, never keys, nonces, PSKs or identities. Off (no cost beyond
/// a null check) unless a listener such as the OTLP exporter subscribes to <see cref="SourceName"/>.
/// </summary>
public static class IkeTracing
{
    public const string SourceName = "Concentrator.Ike";
    public const string EstablishmentSpan = "IKE SA establishment";

    public static readonly ActivitySource Source = new(SourceName, typeof(IkeTracing).Assembly.GetName().Version?.ToString());

    /// <summary>
    /// Starts a span without touching the ambient <see cref="Activity.Current"/>: an SA's spans
    /// outlive the actor message that started them, and the actor's thread serves other SAs next.
    /// </summary>
    public static Activity? Start(string name, ActivityKind kind, ActivityContext parent = default)
    {
        if (!Source.HasListeners()) return null;
        var ambient = Activity.Current;
        Activity.Current = null;
        var activity = Source.StartActivity(name, kind, parent);
        Activity.Current = ambient;
        return activity;
    }

    public static void Stop(Activity? activity, string outcome, bool error)
    {
        if (activity is null) return;
        activity.SetTag("ike.outcome", outcome);
        if (error) activity.SetStatus(ActivityStatusCode.Error, outcome);
        var ambient = Activity.Current;
        activity.Stop();
        Activity.Current = ambient;
    }
}

/// <summary>
/// Metrics and spans of one IKE SA, behind one small object so the protocol code (<c>IkeSa</c>)
/// calls a hook per event and stays free of Akka and of metric families. Not thread-safe (owned with the SA).
/// </summary>
public sealed class IkeSaTelemetry
{
    private readonly ConcentratorMetrics _metrics;
    private readonly bool _initiator;
    private readonly string _role;
    private Activity? _establishment;
    private Activity? _exchange;
    private bool _negotiating;
    private bool _counted = true;
    private IkeSaState _state = IkeSaState.Created;
    // The login method this SA counts under in concentrator_users_online (established, with a user); null: not counted.
    private string? _online;

    public IkeSaTelemetry(ConcentratorMetrics metrics, bool initiator)
    {
        _metrics = metrics;
        _initiator = initiator;
        _role = LabelValues.Role(initiator);
        metrics.IkeSaStateChanged(null, IkeSaState.Created, IkeVersion.V2);
    }

    public ConcentratorMetrics Metrics => _metrics;

    public void StateChanged(IkeSaState from, IkeSaState to)
    {
        if (!_counted || from == to) return;
        _metrics.IkeSaStateChanged(from, to, IkeVersion.V2);
        _state = to;
        if (to == IkeSaState.Destroyed)
        {
            _counted = false;
            UserOffline();
        }
    }

    /// <summary>The SA is established with a logged-in user (responder): one more online for <paramref name="method"/> until it ends.</summary>
    public void UserOnline(string method)
    {
        if (_online is not null || !_counted) return;
        _online = method;
        _metrics.UserOnline(method, +1);
    }

    private void UserOffline()
    {
        if (_online is null) return;
        _metrics.UserOnline(_online, -1);
        _online = null;
    }

    /// <summary>The SA object is gone without a Close (its actor was stopped): its state leaves the gauge.</summary>
    public void Disposed()
    {
        if (!_counted) return;
        _metrics.IkeSaStateChanged(_state, null, IkeVersion.V2);
        _counted = false;
        UserOffline();
        TraceEnd("disposed", error: true);
    }

    public void NegotiationStarted(string? connection, IPEndPoint peer)
    {
        if (_negotiating) return;
        _negotiating = true;
        _metrics.NegotiationStarted(_initiator, IkeVersion.V2);
        _establishment = IkeTracing.Start(IkeTracing.EstablishmentSpan, ActivityKind.Internal);
        if (_establishment is null) return;
        _establishment.SetTag("ike.role", _role);
        if (!string.IsNullOrEmpty(connection)) _establishment.SetTag("ike.connection", connection);
        _establishment.SetTag("network.peer.address", peer.Address.ToString());
        _establishment.SetTag("network.peer.port", peer.Port);
    }

    public void Established(TimeSpan setup, string? connection, string proposal)
    {
        if (_negotiating) _metrics.NegotiationSucceeded(_initiator, setup, IkeVersion.V2);
        _negotiating = false;
        if (_establishment is { } span)
        {
            if (!string.IsNullOrEmpty(connection)) span.SetTag("ike.connection", connection);
            span.SetTag("ike.proposal", proposal);
            IkeTracing.Stop(span, "established", error: false);
            _establishment = null;
        }
    }

    public void Closed(IkeSaState before, CloseReason reason)
    {
        string outcome = LabelValues.Close(reason);
        if (_negotiating) _metrics.NegotiationFailed(_initiator, reason, IkeVersion.V2);
        _negotiating = false;
        _metrics.CountClosed(reason, before is IkeSaState.Established or IkeSaState.Deleting);
        TraceEnd(outcome, error: reason is not (CloseReason.Deleted or CloseReason.DeletedByPeer));
    }

    /// <summary>An exchange starts: our request goes out (initiator of the exchange) or a request is being answered.</summary>
    public void ExchangeStarted(ExchangeType exchange, bool weRequest, string? connection, string proposal)
    {
        if (_exchange is not null) ExchangeEnded("superseded", error: true);
        var parent = _establishment?.Context ?? default;
        _exchange = IkeTracing.Start(LabelValues.Exchange(exchange).ToUpperInvariant(), weRequest ? ActivityKind.Client : ActivityKind.Server, parent);
        if (_exchange is null) return;
        _exchange.SetTag("ike.exchange", LabelValues.Exchange(exchange));
        _exchange.SetTag("ike.role", _role);
        _exchange.SetTag("ike.request", weRequest ? "sent" : "received");
        if (!string.IsNullOrEmpty(connection)) _exchange.SetTag("ike.connection", connection);
        if (!string.IsNullOrEmpty(proposal)) _exchange.SetTag("ike.proposal", proposal);
    }

    public void ExchangeEnded(string outcome, bool error, string? proposal = null)
    {
        if (_exchange is null) return;
        if (!string.IsNullOrEmpty(proposal)) _exchange.SetTag("ike.proposal", proposal);
        IkeTracing.Stop(_exchange, outcome, error);
        _exchange = null;
    }

    public void Sent(ReadOnlySpan<byte> message) => _metrics.CountSent(message);

    public void Retransmit(ExchangeType exchange)
    {
        _metrics.CountRetransmit(exchange);
        _exchange?.AddEvent(new ActivityEvent("retransmit"));
    }

    public void DpdProbe() => _metrics.CountDpdProbe();

    private void TraceEnd(string outcome, bool error)
    {
        ExchangeEnded(outcome, error);
        if (_establishment is not null)
        {
            IkeTracing.Stop(_establishment, outcome, error);
            _establishment = null;
        }
    }
}

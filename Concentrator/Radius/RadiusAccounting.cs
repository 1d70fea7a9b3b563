using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Radius;

/// <summary>
/// RADIUS accounting (RFC 2866) of the IKE SAs a RADIUS server accepted, kept out of the SA: it watches the actor
/// system's IkeSaUp/IkeSaDown and sends Start when such an SA is established, Interim-Update every interval (counters
/// asked from the SA's actor), Stop with the SA's totals and a terminate cause when it ends. Requests wait in a bounded
/// backlog (<see cref="RadiusClientOptions.AccountingBacklog"/>; beyond it they are counted and dropped) and a request no
/// server answered goes back to the backlog up to <see cref="Rounds"/> times, Acct-Delay-Time telling the server how late.
/// </summary>
public sealed class RadiusAccounting : IDisposable
{
    /// <summary>Times a request goes through every server (each with its retransmissions) before it is given up.</summary>
    public const int Rounds = 3;
    private const int Concurrency = 16;

    private readonly RadiusClient _client;
    private readonly RadiusLogins _logins;
    private readonly RadiusMetrics _metrics;
    private readonly ILogger _log;
    private readonly Channel<Record> _backlog;
    private readonly ConcurrentDictionary<ulong, Session> _sessions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _senders;
    private readonly Task _interim;
    private int _pending;

    private sealed class Session(RadiusLogin login, IkeSaUp up, DateTime started)
    {
        public RadiusLogin Login { get; } = login;
        public IkeSaUp Up { get; } = up;
        public DateTime Started { get; } = started;
        public DateTime NextInterim { get; set; }
    }

    private sealed record Record(uint Status, RadiusLogin Login, IPAddress? Vip, DateTime Started, DateTime Event, SaCounters Traffic,
        RadiusTerminateCause? Cause)
    {
        public int Round { get; init; }
    }

    public RadiusAccounting(RadiusClient client, RadiusLogins logins, RadiusMetrics metrics, ILogger log)
    {
        _client = client;
        _logins = logins;
        _metrics = metrics;
        _log = log;
        _backlog = Channel.CreateBounded<Record>(new BoundedChannelOptions(Math.Max(1, client.Options.AccountingBacklog))
        {
            FullMode = BoundedChannelFullMode.Wait,
        });
        _senders = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(SendLoop)).ToArray();
        _interim = Task.Run(InterimLoop);
    }

    /// <summary>Requests queued or in flight.</summary>
    public int Backlog => Volatile.Read(ref _pending);

    /// <summary>Sessions being accounted (Start sent, Stop not yet).</summary>
    public int Sessions => _sessions.Count;

    /// <summary>Subscribes a small actor to the system's IkeSaUp/IkeSaDown that hands them here.</summary>
    public IActorRef Attach(ActorSystem system)
    {
        var observer = system.ActorOf(Props.Create(() => new Observer(this)), "radius-accounting");
        system.EventStream.Subscribe(observer, typeof(IkeSaUp));
        system.EventStream.Subscribe(observer, typeof(IkeSaDown));
        return observer;
    }

    internal void OnUp(IkeSaUp up)
    {
        if (up.Initiator || _logins.Take(up.Spi) is not { } login) return;
        var now = DateTime.UtcNow;
        var session = new Session(login, up, now);
        var interval = login.InterimInterval ?? _client.Options.AccountingInterval;
        session.NextInterim = interval > TimeSpan.Zero ? now + interval : DateTime.MaxValue;
        _sessions[up.Spi] = session;
        Enqueue(new Record(RadiusValues.AcctStart, login, Vip(login, up), now, now, default, null));
    }

    internal void OnDown(IkeSaDown down)
    {
        if (!down.WasEstablished)
        {
            _logins.Take(down.Spi);
            return;
        }
        ulong key = down.EstablishedSpi != 0 ? down.EstablishedSpi : down.Spi;
        if (!_sessions.TryRemove(key, out var session)) return;
        var now = DateTime.UtcNow;
        Enqueue(new Record(RadiusValues.AcctStop, session.Login, Vip(session.Login, session.Up), session.Started, now, down.Traffic,
            Cause(down.Reason)));
    }

    /// <summary>How an IKE SA's end reads as Acct-Terminate-Cause (strongSwan's eap-radius maps the same way).</summary>
    internal static RadiusTerminateCause Cause(CloseReason reason) => reason switch
    {
        CloseReason.DeletedByPeer => RadiusTerminateCause.UserRequest,
        CloseReason.Timeout => RadiusTerminateCause.LostCarrier,
        CloseReason.Deleted or CloseReason.Replaced => RadiusTerminateCause.AdminReset,
        _ => RadiusTerminateCause.NasError,
    };

    private static IPAddress? Vip(RadiusLogin login, IkeSaUp up) =>
        up.VirtualIps?.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? login.FramedAddress;

    private void Enqueue(Record record)
    {
        Interlocked.Increment(ref _pending);
        if (!_backlog.Writer.TryWrite(record))
        {
            Interlocked.Decrement(ref _pending);
            _metrics.AccountingDropped();
            Log.RadiusAccountingGivenUp(_log, StatusName(record.Status), record.Login.SessionId, "backlog full");
        }
        _metrics.AccountingBacklog(Backlog);
    }

    private async Task SendLoop()
    {
        try
        {
            await foreach (var record in _backlog.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                RadiusResponse? response = null;
                try
                {
                    response = await _client.SendAsync(Build(record), null, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                if (response is null)
                {
                    if (record.Round + 1 < Rounds && _backlog.Writer.TryWrite(record with { Round = record.Round + 1 })) continue;
                    _metrics.AccountingDropped();
                    Log.RadiusAccountingGivenUp(_log, StatusName(record.Status), record.Login.SessionId, "no server answered");
                }
                Interlocked.Decrement(ref _pending);
                _metrics.AccountingBacklog(Backlog);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task InterimLoop()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var now = DateTime.UtcNow;
                foreach (var (spi, session) in _sessions)
                {
                    if (session.NextInterim > now) continue;
                    var interval = session.Login.InterimInterval ?? _client.Options.AccountingInterval;
                    session.NextInterim = now + interval;
                    SaCounters traffic = default;
                    if (session.Up.Actor is { } actor)
                    {
                        try
                        {
                            traffic = (await actor.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(2)).ConfigureAwait(false)).Traffic;
                        }
                        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                        {
                            continue; // the SA is going; its Stop follows
                        }
                    }
                    if (_sessions.ContainsKey(spi))
                    {
                        Enqueue(new Record(RadiusValues.AcctInterimUpdate, session.Login, Vip(session.Login, session.Up), session.Started, now, traffic, null));
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The Accounting-Request strongSwan's eap-radius accounting sends, built when it is sent (Acct-Delay-Time).</summary>
    private RadiusRequest Build(Record r)
    {
        var request = new RadiusRequest(RadiusCode.AccountingRequest);
        request.Add(RadiusAttributeType.AcctStatusType, r.Status);
        request.Add(RadiusAttributeType.UserName, r.Login.UserName);
        RadiusEapSession.AddNasAttributes(request, _client.Options, r.Login.Connection, r.Login.Peer, r.Login.SessionId);
        if (r.Vip is { AddressFamily: AddressFamily.InterNetwork } vip) request.Add(RadiusAttributeType.FramedIpAddress, vip.GetAddressBytes());
        if (_client.Options.AccountingSendClass)
        {
            foreach (var c in r.Login.Classes) request.Add(RadiusAttributeType.Class, c);
        }
        if (r.Status != RadiusValues.AcctStart)
        {
            // RFC 2866 §5.3/§5.4: Input is what the user sent (ESP received from the peer), Output what it received.
            request.Add(RadiusAttributeType.AcctInputOctets, (uint)r.Traffic.BytesIn);
            request.Add(RadiusAttributeType.AcctInputGigawords, (uint)(r.Traffic.BytesIn >> 32));
            request.Add(RadiusAttributeType.AcctOutputOctets, (uint)r.Traffic.BytesOut);
            request.Add(RadiusAttributeType.AcctOutputGigawords, (uint)(r.Traffic.BytesOut >> 32));
            request.Add(RadiusAttributeType.AcctInputPackets, (uint)Math.Min(r.Traffic.PacketsIn, uint.MaxValue));
            request.Add(RadiusAttributeType.AcctOutputPackets, (uint)Math.Min(r.Traffic.PacketsOut, uint.MaxValue));
            request.Add(RadiusAttributeType.AcctSessionTime, (uint)Math.Max(0, (r.Event - r.Started).TotalSeconds));
        }
        if (r.Cause is { } cause) request.Add(RadiusAttributeType.AcctTerminateCause, (uint)cause);
        request.Add(RadiusAttributeType.EventTimestamp, (uint)new DateTimeOffset(r.Event).ToUnixTimeSeconds());
        request.Add(RadiusAttributeType.AcctDelayTime, (uint)Math.Max(0, (DateTime.UtcNow - r.Event).TotalSeconds));
        return request;
    }

    private static string StatusName(uint status) => status switch
    {
        RadiusValues.AcctStart => "Start",
        RadiusValues.AcctStop => "Stop",
        _ => "Interim-Update",
    };

    /// <summary>Waits (bounded) until the backlog is sent: on shutdown, the Stops of the SAs just deleted.</summary>
    public async Task DrainAsync(TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (Backlog > 0 && DateTime.UtcNow < until) await Task.Delay(50).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _backlog.Writer.TryComplete();
    }

    /// <summary>
    /// An SA whose actor stopped without an IkeSaDown was handed to another cluster node (it lives on there): its
    /// session is forgotten here without a Stop. Continuing its accounting on the adopting node is not done yet.
    /// </summary>
    internal void OnGone(IActorRef actor)
    {
        foreach (var (spi, session) in _sessions)
        {
            if (Equals(session.Up.Actor, actor)) _sessions.TryRemove(spi, out _);
        }
    }

    private sealed class Observer : ReceiveActor
    {
        public Observer(RadiusAccounting accounting)
        {
            Receive<IkeSaUp>(up =>
            {
                accounting.OnUp(up);
                if (up.Actor is { } sa && accounting._sessions.ContainsKey(up.Spi)) Context.Watch(sa);
            });
            Receive<IkeSaDown>(accounting.OnDown);
            Receive<Terminated>(t => accounting.OnGone(t.ActorRef));
        }
    }
}

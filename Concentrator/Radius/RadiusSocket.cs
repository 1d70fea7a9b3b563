using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Concentrator.Telemetry;

namespace Concentrator.Radius;

/// <summary>
/// One UDP socket towards one server port (auth or acct) and its identifier space: at most 256 requests outstanding
/// (RFC 2865 §3: the Identifier is one octet), further senders wait for a free identifier. One receive loop matches
/// responses to requests; a datagram is accepted only from the server's address and port, as a well-formed packet,
/// answering an outstanding identifier with the right code, with a valid Response Authenticator and, where it carries
/// EAP-Message or Message-Authenticator or grants access, a valid Message-Authenticator. Anything else is counted and dropped, and the
/// request keeps waiting (a forged datagram must not end a genuine exchange).
/// </summary>
internal sealed class RadiusSocket : IDisposable
{
    private const int Identifiers = 256;

    private readonly RadiusServer _server;
    private readonly IPEndPoint _endpoint;
    private readonly string _kind;
    private readonly Socket _socket;
    private readonly Pending?[] _pending = new Pending?[Identifiers];
    private readonly SemaphoreSlim _free = new(Identifiers, Identifiers);
    private readonly CancellationTokenSource _stop = new();
    private readonly RadiusMetrics _metrics;
    private readonly ILogger _log;
    private int _next;

    private sealed record Pending(byte[] RequestAuthenticator, RadiusCode RequestCode, TaskCompletionSource<byte[]> Response);

    public RadiusSocket(RadiusServer server, IPEndPoint endpoint, string kind, RadiusMetrics metrics, ILogger log)
    {
        _server = server;
        _endpoint = endpoint;
        _kind = kind;
        _metrics = metrics;
        _log = log;
        _socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
        _ = Task.Run(ReceiveLoop);
    }

    public IPEndPoint Endpoint => _endpoint;

    /// <summary>Outstanding requests (identifiers in use).</summary>
    public int Outstanding => Identifiers - _free.CurrentCount;

    /// <summary>
    /// Sends the request and retransmits the same bytes (same identifier and authenticator, RFC 2865 §2.5) after
    /// timeout·base^n until it is answered or retransmit_tries transmissions went unanswered (null).
    /// </summary>
    public async Task<RadiusResponse?> ExchangeAsync(RadiusRequest request, CancellationToken cancellationToken)
    {
        var options = _server.Options;
        await _free.WaitAsync(cancellationToken).ConfigureAwait(false);
        int id = -1;
        try
        {
            var tcs = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            byte[]? packet;
            byte[] requestAuthenticator;
            lock (_pending)
            {
                for (int i = 0; i < Identifiers && id < 0; i++, _next = (_next + 1) % Identifiers)
                {
                    if (_pending[_next] is null) id = _next;
                }
                if (id < 0) throw new InvalidOperationException("no free RADIUS identifier although the semaphore granted one");
                packet = request.Encode((byte)id, options.Secret, options.NasIdentifier, out requestAuthenticator);
                if (packet is null) return null;
                _pending[id] = new Pending(requestAuthenticator, request.Code, tcs);
            }
            long started = Stopwatch.GetTimestamp();
            _metrics.Request(options.Name, _kind);
            for (int attempt = 0; attempt < Math.Max(1, options.RetransmitTries); attempt++)
            {
                try
                {
                    await _socket.SendToAsync(packet, SocketFlags.None, _endpoint, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException e)
                {
                    // ICMP unreachable from an earlier send surfaces here; the wait below decides.
                    Log.RadiusSocketError(_log, options.Name, e.SocketErrorCode.ToString());
                }
                try
                {
                    var bytes = await tcs.Task.WaitAsync(options.WaitAfter(attempt), cancellationToken).ConfigureAwait(false);
                    _metrics.RoundTrip(options.Name, _kind, Stopwatch.GetElapsedTime(started));
                    return new RadiusResponse(bytes, requestAuthenticator, _server);
                }
                catch (TimeoutException)
                {
                }
            }
            _metrics.Timeout(options.Name, _kind);
            Log.RadiusTimeout(_log, options.Name, _endpoint, _kind, Math.Max(1, options.RetransmitTries));
            return null;
        }
        finally
        {
            if (id >= 0)
            {
                lock (_pending) _pending[id] = null;
            }
            _free.Release();
        }
    }

    private async Task ReceiveLoop()
    {
        var buffer = new byte[RadiusPacket.MaxLength + 1];
        EndPoint any = new IPEndPoint(_endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // ConnectionReset from an ICMP port unreachable: the retransmission timer handles the silence.
                continue;
            }
            var reason = Accept(buffer.AsSpan(0, received.ReceivedBytes), received.RemoteEndPoint);
            if (reason is { } r)
            {
                _metrics.Dropped(r);
                Log.RadiusDropped(_log, _server.Options.Name, received.RemoteEndPoint, r);
            }
        }
    }

    /// <summary>Hands a verified response to its request; otherwise the reason it is dropped.</summary>
    internal RadiusDropReason? Accept(ReadOnlySpan<byte> datagram, EndPoint source)
    {
        if (source is not IPEndPoint from || from.Port != _endpoint.Port || !Same(from.Address, _endpoint.Address)) return RadiusDropReason.Source;
        if (RadiusPacket.TryParse(datagram, out var packet) != RadiusParseStatus.Ok) return RadiusDropReason.Malformed;
        Pending? pending;
        lock (_pending) pending = _pending[packet.Identifier];
        if (pending is null || pending.Response.Task.IsCompleted) return RadiusDropReason.UnknownId;
        if (Verify(packet, pending.RequestCode, pending.RequestAuthenticator, _server.Options.Secret) is { } reason) return reason;
        pending.Response.TrySetResult(packet.Bytes.ToArray());
        return null;
    }

    /// <summary>
    /// Whether a well-formed packet answers a request of <paramref name="requestCode"/> with
    /// <paramref name="requestAuthenticator"/>: its Response Authenticator, its code, and a Message-Authenticator where one is
    /// required (RFC 3579 §3.2 with EAP-Message; on every Accept and Challenge since BlastRADIUS, CVE-2024-3596, so only a
    /// bare Access-Reject, which grants nothing, may come without). Null when it does.
    /// </summary>
    internal static RadiusDropReason? Verify(RadiusPacket packet, RadiusCode requestCode, ReadOnlySpan<byte> requestAuthenticator,
        ReadOnlySpan<byte> secret)
    {
        if (!RadiusAuthenticator.VerifyResponse(packet.Bytes, requestAuthenticator, secret)) return RadiusDropReason.BadAuthenticator;
        bool codeFits = requestCode == RadiusCode.AccountingRequest
            ? packet.Code == RadiusCode.AccountingResponse
            : packet.Code is RadiusCode.AccessAccept or RadiusCode.AccessReject or RadiusCode.AccessChallenge;
        if (!codeFits) return RadiusDropReason.UnexpectedCode;
        bool needsMac = packet.Code is RadiusCode.AccessAccept or RadiusCode.AccessChallenge ||
                        packet.TryFind(RadiusAttributeType.EapMessage, out _) ||
                        packet.TryFind(RadiusAttributeType.MessageAuthenticator, out _);
        if (needsMac && !RadiusAuthenticator.VerifyMessageAuthenticator(packet, requestAuthenticator, secret))
        {
            return RadiusDropReason.BadMessageAuthenticator;
        }
        return null;
    }

    private static bool Same(IPAddress a, IPAddress b) =>
        a.Equals(b) || (a.IsIPv4MappedToIPv6 && a.MapToIPv4().Equals(b)) || (b.IsIPv4MappedToIPv6 && b.MapToIPv4().Equals(a));

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        lock (_pending)
        {
            foreach (var p in _pending) p?.Response.TrySetCanceled();
        }
    }
}

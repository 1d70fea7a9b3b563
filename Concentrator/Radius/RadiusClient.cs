using System.Net;
using Concentrator.Telemetry;

namespace Concentrator.Radius;

/// <summary>One configured server with its two sockets, created on first use.</summary>
public sealed class RadiusServer : IDisposable
{
    private readonly RadiusMetrics _metrics;
    private readonly ILogger _log;
    private readonly object _lock = new();
    private RadiusSocket? _auth, _acct;
    private bool _disposed;

    internal RadiusServer(RadiusServerOptions options, RadiusMetrics metrics, ILogger log)
    {
        Options = options;
        _metrics = metrics;
        _log = log;
    }

    public RadiusServerOptions Options { get; }
    public string Name => Options.Name;
    public bool TakesAccounting => Options.AcctPort != 0;

    internal RadiusSocket Socket(bool accounting)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return accounting
                ? _acct ??= new RadiusSocket(this, new IPEndPoint(Options.Address, Options.AcctPort), "acct", _metrics, _log)
                : _auth ??= new RadiusSocket(this, new IPEndPoint(Options.Address, Options.AuthPort), "auth", _metrics, _log);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _auth?.Dispose();
            _acct?.Dispose();
        }
    }
}

/// <summary>
/// The RADIUS client: the configured servers, tried in order of preference; a server that lets a request time out is
/// passed over (the next request starts at the one after it) until it is the only one left to try. Every call is
/// asynchronous and never blocks the caller's thread (an actor's).
/// </summary>
public sealed class RadiusClient : IDisposable
{
    private readonly RadiusServer[] _servers;
    private readonly ILogger _log;
    private int _current;

    public RadiusClient(RadiusClientOptions options, RadiusMetrics metrics, ILogger log)
    {
        Options = options;
        _log = log;
        _servers = options.Servers.Select((s, i) => (s, i)).OrderByDescending(x => x.s.Preference).ThenBy(x => x.i)
            .Select(x => new RadiusServer(x.s, metrics, log)).ToArray();
        metrics.BindServers(_servers.Select(s => s.Name));
    }

    public RadiusClientOptions Options { get; }
    public IReadOnlyList<RadiusServer> Servers => _servers;

    /// <summary>
    /// Sends the request to one server after another until one answers. <paramref name="pinned"/>: only that server (an
    /// EAP conversation continues where its State came from). Null when none answered.
    /// </summary>
    public async Task<RadiusResponse?> SendAsync(RadiusRequest request, RadiusServer? pinned, CancellationToken cancellationToken)
    {
        if (pinned is not null) return await pinned.Socket(request.IsAccounting).ExchangeAsync(request, cancellationToken).ConfigureAwait(false);
        int start = Volatile.Read(ref _current);
        for (int i = 0; i < _servers.Length; i++)
        {
            int index = (start + i) % _servers.Length;
            var server = _servers[index];
            if (request.IsAccounting && !server.TakesAccounting) continue;
            var response = await server.Socket(request.IsAccounting).ExchangeAsync(request, cancellationToken).ConfigureAwait(false);
            if (response is not null)
            {
                Volatile.Write(ref _current, index);
                return response;
            }
            // This server failed: later requests start at the next one.
            Volatile.Write(ref _current, (index + 1) % _servers.Length);
        }
        Log.RadiusNoServer(_log, request.IsAccounting ? "acct" : "auth");
        return null;
    }

    public void Dispose()
    {
        foreach (var s in _servers) s.Dispose();
    }
}

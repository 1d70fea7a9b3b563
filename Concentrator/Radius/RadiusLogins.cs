using System.Collections.Concurrent;
using System.Net;
using Concentrator.Ike.Eap;

namespace Concentrator.Radius;

/// <summary>What an Access-Accept decided for one IKE SA, kept for its accounting.</summary>
public sealed record RadiusLogin(string SessionId, byte[] UserName, string Connection, EapPeer Peer, IPAddress? FramedAddress,
    IReadOnlyList<byte[]> Classes, TimeSpan? InterimInterval);

/// <summary>
/// IKE SAs whose EAP a RADIUS server accepted, by the IKE SA's SPI at authentication: written by
/// <see cref="RadiusEapSession"/> on Access-Accept, taken by accounting when the SA comes up or goes. Bounded: an entry
/// whose SA never reports is dropped after <see cref="Expiry"/>, and at most <see cref="MaxEntries"/> wait.
/// </summary>
public sealed class RadiusLogins
{
    public const int MaxEntries = 100_000;
    public static readonly TimeSpan Expiry = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<ulong, (RadiusLogin Login, DateTime Added)> _bySpi = new();
    private readonly string _prefix;
    private long _counter;

    /// <param name="node">This node's name: with the start time it makes Acct-Session-Id unique across the cluster and
    /// restarts (RFC 2866 §5.5).</param>
    public RadiusLogins(string node)
    {
        uint tag = 2166136261;
        foreach (char c in node) tag = (tag ^ c) * 16777619;
        _prefix = $"{tag:x8}-{DateTimeOffset.UtcNow.ToUnixTimeSeconds():x8}";
    }

    public string NewSessionId() => $"{_prefix}-{Interlocked.Increment(ref _counter):x}";

    public void Add(RadiusLogin login)
    {
        if (_bySpi.Count >= MaxEntries) Sweep();
        if (_bySpi.Count >= MaxEntries) return;
        _bySpi[login.Peer.IkeSpi] = (login, DateTime.UtcNow);
    }

    public RadiusLogin? Take(ulong ikeSpi) => _bySpi.TryRemove(ikeSpi, out var e) ? e.Login : null;

    public int Count => _bySpi.Count;

    private void Sweep()
    {
        var cutoff = DateTime.UtcNow - Expiry;
        foreach (var (spi, e) in _bySpi)
        {
            if (e.Added < cutoff) _bySpi.TryRemove(spi, out _);
        }
    }
}

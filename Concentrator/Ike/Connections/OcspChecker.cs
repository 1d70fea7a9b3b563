using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Org.BouncyCastle.Asn1.X509;

namespace Concentrator.Ike.Connections;

/// <summary>swanctl's <c>authorities.&lt;name&gt;</c>, loaded: a CA certificate and the OCSP responders that answer for it.</summary>
public sealed record OcspAuthority(string Name, X509Certificate2 CaCertificate, IReadOnlyList<Uri> OcspUris);

/// <summary>
/// Asks OCSP responders (RFC 6960 over HTTP POST, Appendix A) for the status of a peer's certificate: those of the
/// authority whose CA certificate issued it, then, when the caller allows it, the http OCSP URIs of the certificate's own
/// Authority Information Access (put there by the CA whose signature the chain just verified); never another URL. Each
/// request carries a fresh nonce, is bounded by <see cref="Timeout"/> and <see cref="MaxResponseBytes"/>, goes to the URL
/// directly (no proxy, no redirect). Good and revoked answers are cached until their nextUpdate
/// (<see cref="MaxCacheEntries"/> at most); the rest is asked again next time, except that a responder that did not
/// answer rests for <see cref="ResponderBackoff"/>. Thread-safe: SAs check in parallel.
/// </summary>
/// <remarks>
/// The request is synchronous on the calling thread (an IKE SA actor's, inside IKE_AUTH): <c>IkeSa</c> runs a request to
/// its response in one call with no way to suspend an exchange, as charon's worker thread blocks in its fetcher. The
/// timeout bounds how long one SA's actor waits, and the cache makes it once per certificate and nextUpdate.
/// </remarks>
public sealed class OcspChecker : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(3);
    public const int MaxResponseBytes = 64 * 1024;
    public const int MaxCacheEntries = 10_000;

    /// <summary>
    /// A responder that did not answer is not asked again for this long: with it down, only the first SA in each window
    /// waits <see cref="Timeout"/>, not every SA that reconnects (each would hold its actor's thread that long).
    /// </summary>
    public static readonly TimeSpan ResponderBackoff = TimeSpan.FromSeconds(30);
    private const string AiaOid = "1.3.6.1.5.5.7.1.1";
    private const string OcspAccessMethod = "1.3.6.1.5.5.7.48.1";

    private readonly IReadOnlyList<OcspAuthority> _authorities;
    private readonly HttpClient _http;
    private readonly ConcurrentDictionary<(string Issuer, string Serial), OcspAnswer> _cache = new();
    private readonly ConcurrentDictionary<Uri, DateTime> _downUntil = new();

    public OcspChecker(IReadOnlyList<OcspAuthority> authorities, TimeSpan? timeout = null)
    {
        _authorities = authorities;
        Timeout = timeout ?? DefaultTimeout;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            ConnectTimeout = Timeout,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            MaxResponseHeadersLength = 16,
        };
        _http = new HttpClient(handler) { Timeout = Timeout, MaxResponseContentBufferSize = MaxResponseBytes };
    }

    public TimeSpan Timeout { get; }

    public IReadOnlyList<OcspAuthority> Authorities => _authorities;

    /// <summary>Answers held in the cache (tests).</summary>
    internal int CachedCount => _cache.Count;

    /// <summary>The deadline (<see cref="Environment.TickCount64"/>) of the OCSP requests of one chain: one <see cref="Timeout"/> in all.</summary>
    public long StartBudget() => Environment.TickCount64 + (long)Timeout.TotalMilliseconds;

    /// <summary>
    /// The status of <paramref name="certificate"/> issued by <paramref name="issuer"/>: from the cache, else from the
    /// responders in turn until one says good or revoked (the last failure otherwise); null when no responder applies.
    /// Requests share <paramref name="deadline"/> (<see cref="StartBudget"/>), so a chain with several certificates and
    /// responders waits one timeout at most, not one per request.
    /// </summary>
    public OcspAnswer? Check(X509Certificate2 certificate, X509Certificate2 issuer, bool useAia, DateTime nowUtc, ConcentratorMetrics? metrics,
        long? deadline = null)
    {
        long end = deadline ?? StartBudget();
        var uris = ResponderUris(certificate, issuer, useAia);
        if (uris.Count == 0) return null;
        var key = (issuer.Thumbprint, certificate.SerialNumber);
        if (_cache.TryGetValue(key, out var cached))
        {
            if (cached.NextUpdateUtc is { } next && next >= nowUtc)
            {
                metrics?.CountOcspCacheHit();
                return cached with { Detail = cached.Detail + " (cached)" };
            }
            _cache.TryRemove(key, out _);
        }

        OcspAnswer last = default;
        foreach (var uri in uris)
        {
            if (_downUntil.TryGetValue(uri, out var until) && until > nowUtc)
            {
                last = new(OcspOutcome.ResponderDown, $"{uri}: unreachable, not asked again before {until:u}");
                metrics?.CountOcspRequest(last.Outcome);
                continue;
            }
            long left = end - Environment.TickCount64;
            if (left <= 0)
            {
                last = new(OcspOutcome.OutOfTime, $"{uri}: not asked, this chain's {Timeout.TotalSeconds:0.#} s for OCSP are spent");
                metrics?.CountOcspRequest(last.Outcome);
                continue;
            }
            var allowed = TimeSpan.FromMilliseconds(Math.Min(left, (long)Timeout.TotalMilliseconds));
            last = Ask(uri, certificate, issuer, nowUtc, allowed, out bool timedOut);
            metrics?.CountOcspRequest(last.Outcome);
            // A responder cut short by the chain's budget, not by its own timeout, may just be slow: no back-off for it.
            if (last.Outcome == OcspOutcome.Unreachable && (!timedOut || allowed >= Timeout)) _downUntil[uri] = nowUtc + ResponderBackoff;
            else if (last.Outcome != OcspOutcome.Unreachable) _downUntil.TryRemove(uri, out _);
            last = last with { Detail = $"{uri}: {last.Detail}" };
            if (last.Outcome is OcspOutcome.Good or OcspOutcome.Revoked)
            {
                Remember(key, last, nowUtc);
                break;
            }
        }
        return last;
    }

    /// <summary>The configured responders of the issuer's authorities, then (if allowed) the certificate's AIA OCSP URIs.</summary>
    public IReadOnlyList<Uri> ResponderUris(X509Certificate2 certificate, X509Certificate2 issuer, bool useAia)
    {
        var result = new List<Uri>();
        foreach (var authority in _authorities)
        {
            if (SameCa(authority.CaCertificate, issuer)) result.AddRange(authority.OcspUris.Where(u => !result.Contains(u)));
        }
        if (useAia) result.AddRange(AiaOcspUris(certificate).Where(u => !result.Contains(u)));
        return result;
    }

    /// <summary>The http URIs of id-ad-ocsp in the certificate's Authority Information Access; unparseable ones are skipped.</summary>
    public static IReadOnlyList<Uri> AiaOcspUris(X509Certificate2 certificate)
    {
        if (certificate.Extensions[AiaOid] is not { } extension) return [];
        try
        {
            var aia = AuthorityInformationAccess.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(extension.RawData));
            var result = new List<Uri>();
            foreach (var description in aia.GetAccessDescriptions())
            {
                if (description.AccessMethod.Id != OcspAccessMethod || description.AccessLocation.TagNo != GeneralName.UniformResourceIdentifier) continue;
                string text = description.AccessLocation.Name.ToString() ?? "";
                if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttp) result.Add(uri);
            }
            return result;
        }
        catch (Exception e) when (e is ArgumentException or InvalidCastException or IOException or Org.BouncyCastle.Asn1.Asn1Exception or FormatException)
        {
            return [];
        }
    }

    private OcspAnswer Ask(Uri uri, X509Certificate2 certificate, X509Certificate2 issuer, DateTime nowUtc, TimeSpan allowed, out bool timedOut)
    {
        timedOut = false;
        using var cancel = new CancellationTokenSource(allowed);
        var nonce = RandomNumberGenerator.GetBytes(OcspMessages.NonceLength);
        byte[] response;
        try
        {
            using var content = new ByteArrayContent(OcspMessages.BuildRequest(certificate, issuer, nonce));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/ocsp-request");
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/ocsp-response"));
            using var answer = _http.Send(request, HttpCompletionOption.ResponseContentRead, cancel.Token);
            if (!answer.IsSuccessStatusCode) return new(OcspOutcome.Unreachable, $"HTTP {(int)answer.StatusCode}");
            using var stream = answer.Content.ReadAsStream();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            response = buffer.ToArray();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException or IOException or InvalidOperationException)
        {
            timedOut = e is TaskCanceledException or OperationCanceledException;
            return new(OcspOutcome.Unreachable, timedOut ? $"no answer within {allowed.TotalSeconds:0.#} s" : e.Message);
        }
        return OcspMessages.Evaluate(response, certificate, issuer, nonce, nowUtc);
    }

    private void Remember((string, string) key, OcspAnswer answer, DateTime nowUtc)
    {
        if (answer.NextUpdateUtc is not { } next || next < nowUtc) return;
        if (_cache.Count >= MaxCacheEntries)
        {
            foreach (var entry in _cache)
            {
                if (entry.Value.NextUpdateUtc < nowUtc) _cache.TryRemove(entry.Key, out _);
            }
            if (_cache.Count >= MaxCacheEntries) return;
        }
        _cache[key] = answer;
    }

    /// <summary>The same CA: the same subject and public key (a re-issued CA certificate with the same key still matches).</summary>
    private static bool SameCa(X509Certificate2 configured, X509Certificate2 issuer) =>
        configured.SubjectName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData) &&
        configured.PublicKey.EncodedKeyValue.RawData.AsSpan().SequenceEqual(issuer.PublicKey.EncodedKeyValue.RawData);

    public void Dispose() => _http.Dispose();
}

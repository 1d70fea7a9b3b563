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
/// The OCSP requests one IKE_AUTH waits for (DER of each certificate and its issuer, which outlive the SA's certificate
/// objects), made off the SA's actor by <see cref="OcspChecker.FetchAsync"/>.
/// </summary>
public sealed record OcspFetch(OcspChecker Checker, IReadOnlyList<(byte[] Certificate, byte[] Issuer, bool UseAia)> Requests);

/// <summary>
/// Asks OCSP responders (RFC 6960 over HTTP POST, Appendix A) for the status of a peer's certificate: those of the
/// authority whose CA certificate issued it, then, when the caller allows it, the http OCSP URIs of the certificate's own
/// Authority Information Access (put there by the CA whose signature the chain just verified); never another URL. Each
/// request carries a fresh nonce, is bounded by <see cref="Timeout"/> and <see cref="MaxResponseBytes"/>, goes to the URL
/// directly (no proxy, no redirect). Good and revoked answers are cached until their nextUpdate, the others for
/// <see cref="ResponderBackoff"/> (<see cref="MaxCacheEntries"/> of each at most), and a responder that did not answer
/// rests for <see cref="ResponderBackoff"/>. Thread-safe: SAs check in parallel.
/// </summary>
/// <remarks>
/// A responder's IKE_AUTH never waits on its SA's actor: <see cref="Check"/> with a <c>defer</c> list answers from the
/// cache or records what to ask, the task defers the request, the host runs <see cref="FetchAsync"/> (no thread waits) and
/// resumes the SA, whose second look finds the answers here (decisive ones until nextUpdate, the others for
/// <see cref="ResponderBackoff"/>). Without <c>defer</c> (our initiator checking a responder, a resumed check whose
/// answer was evicted) the request runs on the calling thread, bounded by the timeout.
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
    private readonly ConcurrentDictionary<(string Issuer, string Serial), (OcspAnswer Answer, DateTime Until)> _recent = new();

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
    /// <remarks>Without <paramref name="defer"/> a request is awaited on the calling thread (our initiator's check).</remarks>
    public OcspAnswer? Check(X509Certificate2 certificate, X509Certificate2 issuer, bool useAia, DateTime nowUtc, ConcentratorMetrics? metrics,
        long? deadline = null, List<(byte[] Certificate, byte[] Issuer, bool UseAia)>? defer = null) =>
        Lookup(certificate, issuer, useAia, nowUtc, metrics, defer, out var uris) is { } known
            ? known
            : uris.Count == 0 ? null : AskAllAsync(uris, certificate, issuer, nowUtc, metrics, deadline ?? StartBudget()).GetAwaiter().GetResult();

    /// <summary>
    /// The answer from the cache, the pending marker (the request added to <paramref name="defer"/>), or null when the
    /// responders in <paramref name="uris"/> must be asked (none when no responder applies).
    /// </summary>
    private OcspAnswer? Lookup(X509Certificate2 certificate, X509Certificate2 issuer, bool useAia, DateTime nowUtc, ConcentratorMetrics? metrics,
        List<(byte[] Certificate, byte[] Issuer, bool UseAia)>? defer, out IReadOnlyList<Uri> uris)
    {
        uris = ResponderUris(certificate, issuer, useAia);
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
        if (_recent.TryGetValue(key, out var recent))
        {
            if (recent.Until >= nowUtc)
            {
                metrics?.CountOcspCacheHit();
                return recent.Answer with { Detail = recent.Answer.Detail + " (cached)" };
            }
            _recent.TryRemove(key, out _);
        }
        if (defer is not null && uris.Any(u => !(_downUntil.TryGetValue(u, out var down) && down > nowUtc)))
        {
            defer.Add((certificate.RawData, issuer.RawData, useAia));
            return new(OcspOutcome.Unknown, "not asked yet", Pending: true);
        }
        return null;
    }

    /// <summary>The responders in turn until one says good or revoked (remembered), within <paramref name="end"/>.</summary>
    private async Task<OcspAnswer> AskAllAsync(IReadOnlyList<Uri> uris, X509Certificate2 certificate, X509Certificate2 issuer, DateTime nowUtc,
        ConcentratorMetrics? metrics, long end)
    {
        var key = (issuer.Thumbprint, certificate.SerialNumber);
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
            last = await AskAsync(uri, certificate, issuer, nowUtc, allowed).ConfigureAwait(false);
            metrics?.CountOcspRequest(last.Outcome);
            if (last.Outcome == OcspOutcome.Unreachable) _downUntil[uri] = nowUtc + ResponderBackoff;
            else _downUntil.TryRemove(uri, out _);
            last = last with { Detail = $"{uri}: {last.Detail}" };
            if (last.Outcome is OcspOutcome.Good or OcspOutcome.Revoked)
            {
                Remember(key, last, nowUtc);
                return last;
            }
        }
        if (_recent.Count < MaxCacheEntries) _recent[key] = (last, nowUtc + ResponderBackoff);
        return last;
    }

    /// <summary>
    /// Makes the requests an IKE_AUTH deferred for (asynchronously: no thread waits on a responder), one
    /// <see cref="Timeout"/> in all; the answers land in the cache for the resumed check. Never throws: a certificate
    /// that does not parse is skipped.
    /// </summary>
    public async Task FetchAsync(OcspFetch fetch, ConcentratorMetrics? metrics)
    {
        long deadline = StartBudget();
        foreach (var (der, issuerDer, useAia) in fetch.Requests)
        {
            X509Certificate2? certificate = null, issuer = null;
            try
            {
                certificate = X509CertificateLoader.LoadCertificate(der);
                issuer = X509CertificateLoader.LoadCertificate(issuerDer);
                var now = DateTime.UtcNow;
                if (Lookup(certificate, issuer, useAia, now, metrics, null, out var uris) is null && uris.Count > 0)
                {
                    await AskAllAsync(uris, certificate, issuer, now, metrics, deadline).ConfigureAwait(false);
                }
            }
            catch (CryptographicException)
            {
            }
            finally
            {
                certificate?.Dispose();
                issuer?.Dispose();
            }
        }
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

    private async Task<OcspAnswer> AskAsync(Uri uri, X509Certificate2 certificate, X509Certificate2 issuer, DateTime nowUtc, TimeSpan allowed)
    {
        using var cancel = new CancellationTokenSource(allowed);
        var nonce = RandomNumberGenerator.GetBytes(OcspMessages.NonceLength);
        byte[] response;
        try
        {
            using var content = new ByteArrayContent(OcspMessages.BuildRequest(certificate, issuer, nonce));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/ocsp-request");
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/ocsp-response"));
            using var answer = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancel.Token).ConfigureAwait(false);
            if (!answer.IsSuccessStatusCode) return new(OcspOutcome.Unreachable, $"HTTP {(int)answer.StatusCode}");
            response = await answer.Content.ReadAsByteArrayAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException or IOException or InvalidOperationException)
        {
            bool timedOut = e is TaskCanceledException or OperationCanceledException;
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

using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Hosting;

/// <summary>
/// Who may use the admin API, decided before a handler runs (each admin request asks every IKE SA actor, so an
/// unbounded client could keep the actor system busy):
/// 1. the client's address is loopback, else 403 and nothing is kept;
/// 2. the bearer token, when one is set, compared in constant time;
/// 3. charon.admin_rate per client address, in two separate budgets: requests that carried the token and requests
///    that did not. A client without the token (a guesser) only ever spends the second, so it cannot lock the
///    operator out; beyond either budget the answer is 429, counted as the admin_rate limit.
/// Each budget is a token bucket of admin_rate requests refilled every second
/// (System.Threading.RateLimiting); a client's buckets are dropped once idle and full.
/// </summary>
internal sealed class AdminGate : IDisposable
{
    private readonly byte[]? _expected;
    private readonly int _perSecond;
    private readonly LimitReporter _limits;
    private readonly PartitionedRateLimiter<string> _rate;

    public AdminGate(string? token, int perSecond, LimitReporter limits)
    {
        _expected = string.IsNullOrEmpty(token) ? null : Encoding.UTF8.GetBytes("Bearer " + token);
        _perSecond = perSecond;
        _limits = limits;
        _rate = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond,
                TokensPerPeriod = perSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    /// <summary>Null when the request may proceed, else the answer to send instead.</summary>
    public IResult? Admit(HttpContext http)
    {
        var client = http.Connection.RemoteIpAddress;
        if (client is null) return Results.StatusCode(StatusCodes.Status403Forbidden);
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        if (!IPAddress.IsLoopback(client)) return Results.StatusCode(StatusCodes.Status403Forbidden);

        bool authorized = Authorized(http);
        using var lease = _rate.AttemptAcquire((authorized ? "token " : "none ") + client);
        if (!lease.IsAcquired)
        {
            _limits.Hit(ResourceLimit.AdminRate, _perSecond);
            return Results.StatusCode(StatusCodes.Status429TooManyRequests);
        }
        return authorized ? null : Results.Unauthorized();
    }

    private bool Authorized(HttpContext http) => _expected is null ||
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(http.Request.Headers.Authorization.ToString()), _expected);

    public void Dispose() => _rate.Dispose();
}

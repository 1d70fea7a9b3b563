using Concentrator.Ipsec;

namespace Concentrator.Telemetry;

/// <summary>
/// Process-wide IKE totals (every gateway of the process added up), read by the demo summary and
/// tests. Not a counting API: events are counted through <see cref="ConcentratorMetrics"/>, which
/// feeds these totals as well as the node's Prometheus families, so there is one way of counting.
/// </summary>
public static class IkeStats
{
    private static readonly long[] Malformed = new long[Enum.GetValues<ParseStatus>().Length];
    private static readonly long[] Drops = new long[(int)IkeDropReason.Count];
    private static readonly long[] Closed = new long[Enum.GetValues<CloseReason>().Length];
    private static long _established;
    private static long _childEstablished;
    private static long _retransmits;
    private static long _cookiesSent;

    internal static void CountMalformed(ParseStatus status)
    {
        Interlocked.Increment(ref Malformed[(int)status]);
        Interlocked.Increment(ref Drops[(int)IkeDropReason.Malformed]);
    }

    internal static void CountDrop(IkeDropReason reason) => Interlocked.Increment(ref Drops[(int)reason]);
    internal static void CountClosed(CloseReason reason) => Interlocked.Increment(ref Closed[(int)reason]);
    internal static void CountEstablished() => Interlocked.Increment(ref _established);
    internal static void CountChildEstablished() => Interlocked.Increment(ref _childEstablished);
    internal static void CountRetransmit() => Interlocked.Increment(ref _retransmits);
    internal static void CountCookieSent() => Interlocked.Increment(ref _cookiesSent);

    public static long MalformedCount(ParseStatus status) => Interlocked.Read(ref Malformed[(int)status]);
    public static long DropCount(IkeDropReason reason) => Interlocked.Read(ref Drops[(int)reason]);
    public static long ClosedCount(CloseReason reason) => Interlocked.Read(ref Closed[(int)reason]);
    public static long Established => Interlocked.Read(ref _established);
    public static long ChildEstablished => Interlocked.Read(ref _childEstablished);
    public static long Retransmits => Interlocked.Read(ref _retransmits);
    public static long CookiesSent => Interlocked.Read(ref _cookiesSent);
}

// Ownership/thread-safety: control plane only; every method is thread-safe (one lock serialises the reference
// counts and the netlink requests, which are rare: SA install/delete). Routes live in a table of the gateway's own
// (charon.routing_table, strongSwan's 220), never in main; rules send lookups there (charon.routing_table_prio).
// Routes are counted per normalised prefix and exclusions (throw routes) per address; the kernel route exists while
// the count is > 0. Only what this instance added is ever removed. Failures come back as a RouteResult (the netlink
// errno), are counted by operation, and are never thrown.
using System.Net;
using System.Net.Sockets;

namespace Concentrator.DataPlane.Linux;

/// <summary>Outcome of a route operation; <see cref="Error"/> holds the kernel's reason.</summary>
public readonly record struct RouteResult(bool Ok, string? Error, int References)
{
    public static RouteResult Success(int references) => new(true, null, references);
    public static RouteResult Failure(string error, int references) => new(false, error, references);
}

/// <summary>What a route failure was doing: the <c>operation</c> label of <c>concentrator_route_failures_total</c>.</summary>
public enum RouteOperation
{
    /// <summary>A tunnel route or an exclusion was not installed.</summary>
    Add = 0,
    /// <summary>A tunnel route or an exclusion was not removed.</summary>
    Remove,
    /// <summary>A routing rule was not installed or not removed.</summary>
    Rule,
    /// <summary>A route for the peer's own address was refused (its IKE and ESP must not enter the tunnel).</summary>
    PeerAddress,
    Count,
}

/// <summary>
/// The tunnel's routes, after strongSwan's kernel-netlink: a table of their own (charon.routing_table) consulted by
/// rules at charon.routing_table_prio, so a route for 0.0.0.0/0 neither replaces nor removes the main table's default
/// route. Per address family, in order:
/// <code>
///   PRIO    not fwmark MARK lookup TABLE suppress_prefixlength 0   the tunnel's specific routes win
///   PRIO+1  not fwmark MARK lookup main  suppress_prefixlength 0   then the main table's specific routes (LAN, links)
///   PRIO+2  not fwmark MARK lookup TABLE                           then the tunnel's default route
///   32766   lookup main                                            then main's default route
/// </code>
/// The gateway's own IKE and ESP sockets carry MARK (SO_MARK) and skip all three: its ESP never loops into the tunnel.
/// A throw route per peer address (<see cref="Exclude"/>) keeps anything else sent to the peer's outer address out of
/// the tunnel too. strongSwan installs one rule ("lookup 220") and, with kernel-libipsec, a throw route per peer; its
/// 0.0.0.0/0 route then also captures the gateway's LAN, which the middle rule here leaves reachable.
/// </summary>
public sealed class RouteManager : IDisposable
{
    /// <summary>charon.routing_table's default (strongSwan's).</summary>
    public const uint DefaultTable = 220;

    /// <summary>charon.routing_table_prio's default (strongSwan's).</summary>
    public const uint DefaultPriority = 220;

    private readonly object _gate = new();
    private readonly Dictionary<string, Entry> _routes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _exclusions = new(StringComparer.Ordinal);
    private readonly List<(int Family, int Offset)> _rules = new();
    private readonly long[] _failures = new long[(int)RouteOperation.Count];
    private readonly RtNetlink _netlink;
    private int _deviceIndex;

    /// <summary>Opens the netlink socket in the calling thread's network namespace; nothing is installed yet.</summary>
    /// <param name="device">The TUN device tunnel routes point at.</param>
    /// <param name="mark">The fwmark the gateway's own sockets carry; rules skip packets with it. 0: <paramref name="table"/>.</param>
    public RouteManager(string device, uint table = DefaultTable, uint priority = DefaultPriority, uint mark = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        if (table is 0 or >= 253 and <= 255) throw new ArgumentOutOfRangeException(nameof(table), "not the unspec, default, main or local table");
        if (priority is 0 or > MaxPriority) throw new ArgumentOutOfRangeException(nameof(priority), $"1..{MaxPriority}");
        Device = device;
        Table = table;
        Priority = priority;
        Mark = mark == 0 ? table : mark;
        _netlink = RtNetlink.Open();
    }

    /// <summary>The highest priority whose three rules all come before the main table's (32766).</summary>
    public const uint MaxPriority = 32763;

    public string Device { get; }
    public uint Table { get; }
    public uint Priority { get; }
    public uint Mark { get; }

    /// <summary>Failures so far of one kind (counted here so a failure before the metrics were attached is not lost).</summary>
    public long Failures(RouteOperation operation) => Interlocked.Read(ref _failures[(int)operation]);

    /// <summary>Counts a refusal decided by the caller (a route for the peer's own address).</summary>
    public void CountRefused() => Interlocked.Increment(ref _failures[(int)RouteOperation.PeerAddress]);

    /// <summary>
    /// Installs the three rules for IPv4 and IPv6 (a rule left by an earlier run is replaced). A kernel without IPv6
    /// is not a failure. Returns the failures.
    /// </summary>
    public IReadOnlyList<RouteResult> InstallRules()
    {
        var failures = new List<RouteResult>();
        lock (_gate)
        {
            foreach (int family in (ReadOnlySpan<int>)[LibC.AF_INET, LibC.AF_INET6])
            {
                for (int offset = 0; offset < 3; offset++)
                {
                    // An earlier run killed before it removed its rules left them: replace them, never stack duplicates.
                    int stale = 0;
                    while (stale < 8 && RuleRequest(add: false, family, offset) == 0) stale++;
                    int error = RuleRequest(add: true, family, offset);
                    if (error == 0)
                    {
                        _rules.Add((family, offset));
                        continue;
                    }
                    if (family == LibC.AF_INET6 && error == -LibC.EAFNOSUPPORT) break;
                    failures.Add(Fail(RouteOperation.Rule, $"rule {DescribeRule(family, offset)}", error, 0));
                }
            }
        }
        return failures;
    }

    /// <summary>The rules as ip(8) would show them (for logs and errors).</summary>
    public string DescribeRules() =>
        string.Join("; ", Enumerable.Range(0, 3).Select(offset => DescribeRule(LibC.AF_INET, offset)));

    /// <summary>References held on <paramref name="prefix"/> (0 when this instance holds no route for it).</summary>
    public int References(string prefix)
    {
        if (!TryParse(prefix, out var key, out _, out _, out _)) return 0;
        lock (_gate) return _routes.GetValueOrDefault(key)?.Count ?? 0;
    }

    /// <summary>Prefixes currently routed through the device by this instance.</summary>
    public IReadOnlyList<string> Prefixes()
    {
        lock (_gate) return _routes.Keys.ToList();
    }

    /// <summary>Addresses currently excluded from the tunnel table by this instance.</summary>
    public IReadOnlyList<string> Exclusions()
    {
        lock (_gate) return _exclusions.Keys.ToList();
    }

    public RouteResult Add(IPAddress address, int prefixLength) => Add($"{address}/{prefixLength}");

    public RouteResult Remove(IPAddress address, int prefixLength) => Remove($"{address}/{prefixLength}");

    /// <summary>Takes a reference on <paramref name="prefix"/> (CIDR); the first one installs the route via the device.</summary>
    public RouteResult Add(string prefix) => Add(prefix, null);

    /// <summary>As <see cref="Add(string)"/>; the route, when this call installs it, gives locally sent packets
    /// <paramref name="source"/> (a transport-mode SA's packets must leave from our IKE address).</summary>
    public RouteResult Add(string prefix, IPAddress? source)
    {
        if (!TryParse(prefix, out var key, out var bytes, out int length, out var error)) return Fail(RouteOperation.Add, prefix, error!, 0);
        lock (_gate)
        {
            int index = DeviceIndex();
            if (index < 0) return Fail(RouteOperation.Add, $"route {key} via {Device}", index, 0);
            byte[] src = source is null ? [] : RtNetlink.Bytes(source);
            if (src.Length != 0 && src.Length != bytes.Length) return Fail(RouteOperation.Add, $"route {key} src {source}", -LibC.EINVAL, 0);
            return Take(_routes, key, bytes, length, () => _netlink.Route(add: true, bytes, length, Table, RtNetlink.TypeUnicast, index, src), $"route {key} via {Device}");
        }
    }

    /// <summary>Drops a reference; the last one removes the route. Prefixes this instance did not add are left alone.</summary>
    public RouteResult Remove(string prefix)
    {
        if (!TryParse(prefix, out var key, out var bytes, out int length, out var error)) return Fail(RouteOperation.Remove, prefix, error!, 0);
        lock (_gate)
        {
            return Drop(_routes, key, () => _netlink.Route(add: false, bytes, length, Table, RtNetlink.TypeUnicast, _deviceIndex),
                $"route {key} via {Device}");
        }
    }

    /// <summary>
    /// Takes a reference on a throw route for <paramref name="address"/> in the tunnel table: lookups for it go on to the
    /// main table, so nothing sent to a peer's outer address enters the tunnel, whatever the tunnel's routes cover.
    /// </summary>
    public RouteResult Exclude(IPAddress address)
    {
        var bytes = RtNetlink.Bytes(address);
        string key = HostKey(bytes);
        lock (_gate) return Take(_exclusions, key, bytes, bytes.Length * 8, () => _netlink.Route(add: true, bytes, bytes.Length * 8, Table, RtNetlink.TypeThrow, 0), $"throw {key}");
    }

    /// <summary>Drops a reference on the exclusion of <paramref name="address"/>; the last one removes the throw route.</summary>
    public RouteResult Include(IPAddress address)
    {
        var bytes = RtNetlink.Bytes(address);
        string key = HostKey(bytes);
        lock (_gate) return Drop(_exclusions, key, () => _netlink.Route(add: false, bytes, bytes.Length * 8, Table, RtNetlink.TypeThrow, 0), $"throw {key}");
    }

    /// <summary>Whether <paramref name="prefix"/> is exactly the host route of <paramref name="address"/>.</summary>
    public static bool IsHostRouteOf(string prefix, IPAddress address) =>
        TryParse(prefix, out var key, out _, out _, out _) && key == HostKey(RtNetlink.Bytes(address));

    /// <summary>Removes every route, exclusion and rule this instance added (shutdown). Returns the failures.</summary>
    public IReadOnlyList<RouteResult> RemoveAll()
    {
        var failures = new List<RouteResult>();
        lock (_gate)
        {
            foreach (var (key, entry) in _routes)
            {
                int error = _netlink.Route(add: false, entry.Bytes, entry.Length, Table, RtNetlink.TypeUnicast, _deviceIndex);
                // The kernel removed routes via the device itself if the device is gone already.
                if (error != 0 && error != -LibC.ESRCH && error != -LibC.ENODEV) failures.Add(Fail(RouteOperation.Remove, $"route {key} via {Device}", error, 0));
            }
            _routes.Clear();
            foreach (var (key, entry) in _exclusions)
            {
                int error = _netlink.Route(add: false, entry.Bytes, entry.Length, Table, RtNetlink.TypeThrow, 0);
                if (error != 0 && error != -LibC.ESRCH) failures.Add(Fail(RouteOperation.Remove, $"throw {key}", error, 0));
            }
            _exclusions.Clear();
            foreach (var (family, offset) in _rules)
            {
                int error = RuleRequest(add: false, family, offset);
                if (error != 0 && error != -LibC.ENOENT) failures.Add(Fail(RouteOperation.Rule, $"rule {DescribeRule(family, offset)}", error, 0));
            }
            _rules.Clear();
        }
        return failures;
    }

    public void Dispose()
    {
        RemoveAll();
        _netlink.Dispose();
    }

    /// <summary>"10.1.2.3/16" -> "10.1.0.0/16"; IPv6 likewise. A bare address is a host route.</summary>
    public static bool TryNormalize(string prefix, out string normalized, out string? error)
    {
        bool ok = TryParse(prefix, out normalized, out _, out _, out error);
        if (!ok) normalized = "";
        return ok;
    }

    private RouteResult Take(Dictionary<string, Entry> entries, string key, byte[] bytes, int length, Func<int> install, string what)
    {
        if (entries.TryGetValue(key, out var entry))
        {
            entry.Count++;
            return RouteResult.Success(entry.Count);
        }
        int error = install();
        if (error != 0) return Fail(RouteOperation.Add, what, error, 0);
        entries[key] = new Entry(bytes, length);
        return RouteResult.Success(1);
    }

    private RouteResult Drop(Dictionary<string, Entry> entries, string key, Func<int> remove, string what)
    {
        if (!entries.TryGetValue(key, out var entry)) return RouteResult.Failure($"{what} was not added by this manager", 0);
        if (--entry.Count > 0) return RouteResult.Success(entry.Count);
        entries.Remove(key);
        int error = remove();
        return error == 0 ? RouteResult.Success(0) : Fail(RouteOperation.Remove, what, error, 0);
    }

    private int DeviceIndex()
    {
        if (_deviceIndex > 0) return _deviceIndex;
        int index = _netlink.LinkIndex(Device);
        if (index > 0) _deviceIndex = index;
        return index;
    }

    private int RuleRequest(bool add, int family, int offset) => offset switch
    {
        0 => _netlink.Rule(add, family, Priority, Table, Mark, notMarked: true, suppressPrefixLength: 0),
        1 => _netlink.Rule(add, family, Priority + 1, RtNetlink.MainTable, Mark, notMarked: true, suppressPrefixLength: 0),
        _ => _netlink.Rule(add, family, Priority + 2, Table, Mark, notMarked: true, suppressPrefixLength: -1),
    };

    private string DescribeRule(int family, int offset) =>
        $"{(family == LibC.AF_INET6 ? "-6 " : "")}{Priority + (uint)offset}: not fwmark 0x{Mark:x} lookup {(offset == 1 ? "main" : Table.ToString())}" +
        (offset < 2 ? " suppress_prefixlength 0" : "");

    private RouteResult Fail(RouteOperation operation, string what, int negativeErrno, int references) =>
        Fail(operation, what, LibC.Describe(-negativeErrno), references);

    private RouteResult Fail(RouteOperation operation, string what, string reason, int references)
    {
        Interlocked.Increment(ref _failures[(int)operation]);
        return RouteResult.Failure($"{what}: {reason}", references);
    }

    private static string HostKey(byte[] bytes) => $"{new IPAddress(bytes)}/{bytes.Length * 8}";

    private static bool TryParse(string prefix, out string key, out byte[] bytes, out int length, out string? error)
    {
        key = "";
        bytes = [];
        length = 0;
        error = null;
        if (string.IsNullOrWhiteSpace(prefix))
        {
            error = "empty prefix";
            return false;
        }
        int slash = prefix.IndexOf('/');
        string addressText = slash < 0 ? prefix : prefix[..slash];
        if (!IPAddress.TryParse(addressText, out IPAddress? address) || address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            error = $"'{prefix}' is not an IP prefix";
            return false;
        }
        int bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        length = bits;
        if (slash >= 0 && (!int.TryParse(prefix.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out length) || length > bits))
        {
            error = $"'{prefix}' has an invalid prefix length";
            return false;
        }
        bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(length - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        key = $"{new IPAddress(bytes)}/{length}";
        return true;
    }

    private sealed class Entry(byte[] bytes, int length)
    {
        public byte[] Bytes { get; } = bytes;
        public int Length { get; } = length;
        public int Count { get; set; } = 1;
    }
}

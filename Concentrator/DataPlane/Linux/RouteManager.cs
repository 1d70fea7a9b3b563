// Ownership/thread-safety: control plane only; all methods are thread-safe (one lock serialises the
// reference counts and the `ip` invocations, which are rare: SA install/delete). Routes are counted
// per normalised prefix; the kernel route exists while the count is > 0. Only prefixes this instance
// added are ever removed. Failures of `ip` come back as a RouteResult (stderr captured), never thrown.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Concentrator.DataPlane.Linux;

/// <summary>Outcome of a route operation; <see cref="Error"/> holds ip's stderr or the reason.</summary>
public readonly record struct RouteResult(bool Ok, string? Error, int References)
{
    public static RouteResult Success(int references) => new(true, null, references);
    public static RouteResult Failure(string error, int references) => new(false, error, references);
}

public sealed class RouteManager
{
    private readonly object _gate = new();
    private readonly Dictionary<string, int> _references = new(StringComparer.Ordinal);
    private readonly string[] _prefix;
    private readonly TimeSpan _timeout;

    /// <param name="device">The TUN device routes point at.</param>
    /// <param name="commandPrefix">Prepended to every command, e.g. ["ip", "netns", "exec", "NS"] to act inside a namespace; empty for none.</param>
    /// <param name="ipPath">The ip(8) binary.</param>
    public RouteManager(string device, IReadOnlyList<string>? commandPrefix = null, string ipPath = "ip", TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        Device = device;
        var prefix = new List<string>();
        if (commandPrefix is not null)
            prefix.AddRange(commandPrefix);
        prefix.Add(ipPath);
        _prefix = prefix.ToArray();
        _timeout = timeout ?? TimeSpan.FromSeconds(10);
    }

    public string Device { get; }

    /// <summary>References held on <paramref name="prefix"/> (0 when this instance holds no route for it).</summary>
    public int References(string prefix)
    {
        if (!TryNormalize(prefix, out string key, out _))
            return 0;
        lock (_gate)
            return _references.GetValueOrDefault(key);
    }

    /// <summary>Prefixes currently routed by this instance.</summary>
    public IReadOnlyList<string> Prefixes()
    {
        lock (_gate)
            return _references.Keys.ToList();
    }

    public RouteResult Add(IPAddress address, int prefixLength) => Add($"{address}/{prefixLength}");

    public RouteResult Remove(IPAddress address, int prefixLength) => Remove($"{address}/{prefixLength}");

    /// <summary>Takes a reference on <paramref name="prefix"/> (CIDR); the first one runs `ip route replace PREFIX dev DEV`.</summary>
    public RouteResult Add(string prefix)
    {
        if (!TryNormalize(prefix, out string key, out string? error))
            return RouteResult.Failure(error!, 0);
        lock (_gate)
        {
            int count = _references.GetValueOrDefault(key);
            if (count > 0)
            {
                _references[key] = count + 1;
                return RouteResult.Success(count + 1);
            }
            // replace (not add): idempotent if a route to the same device survived a crash.
            string? failure = RunIp("route", "replace", key, "dev", Device);
            if (failure is not null)
                return RouteResult.Failure(failure, 0);
            _references[key] = 1;
            return RouteResult.Success(1);
        }
    }

    /// <summary>Drops a reference; the last one runs `ip route del PREFIX dev DEV`. Unknown prefixes are left alone.</summary>
    public RouteResult Remove(string prefix)
    {
        if (!TryNormalize(prefix, out string key, out string? error))
            return RouteResult.Failure(error!, 0);
        lock (_gate)
        {
            int count = _references.GetValueOrDefault(key);
            if (count == 0)
                return RouteResult.Failure($"route {key} was not added by this manager", 0);
            if (count > 1)
            {
                _references[key] = count - 1;
                return RouteResult.Success(count - 1);
            }
            _references.Remove(key);
            string? failure = RunIp("route", "del", key, "dev", Device);
            return failure is null ? RouteResult.Success(0) : RouteResult.Failure(failure, 0);
        }
    }

    /// <summary>Removes every route this instance added (shutdown). Returns the failures.</summary>
    public IReadOnlyList<RouteResult> RemoveAll()
    {
        var failures = new List<RouteResult>();
        lock (_gate)
        {
            foreach (string key in _references.Keys.ToList())
            {
                _references.Remove(key);
                string? failure = RunIp("route", "del", key, "dev", Device);
                if (failure is not null)
                    failures.Add(RouteResult.Failure(failure, 0));
            }
        }
        return failures;
    }

    /// <summary>"10.1.2.3/16" -> "10.1.0.0/16"; IPv6 likewise. A bare address is a host route.</summary>
    public static bool TryNormalize(string prefix, out string normalized, out string? error)
    {
        normalized = "";
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
        int length = bits;
        if (slash >= 0 && (!int.TryParse(prefix.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out length) || length > bits))
        {
            error = $"'{prefix}' has an invalid prefix length";
            return false;
        }
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(length - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        normalized = $"{new IPAddress(bytes)}/{length}";
        return true;
    }

    /// <summary>Runs the ip command; null on success, otherwise a message with its stderr.</summary>
    private string? RunIp(params string[] args)
    {
        var psi = new ProcessStartInfo(_prefix[0])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        for (int i = 1; i < _prefix.Length; i++)
            psi.ArgumentList.Add(_prefix[i]);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        string commandLine = string.Join(' ', psi.ArgumentList.Prepend(psi.FileName));
        try
        {
            using var process = Process.Start(psi);
            if (process is null)
                return $"{commandLine}: could not start";
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(_timeout))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                return $"{commandLine}: timed out after {_timeout.TotalSeconds:0}s";
            }
            process.WaitForExit();
            if (process.ExitCode == 0)
                return null;
            string message = stderr.Result.Trim();
            if (message.Length == 0)
                message = stdout.Result.Trim();
            return $"{commandLine}: exit {process.ExitCode}: {message}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return $"{commandLine}: {e.Message}";
        }
    }
}

// Test helpers for the Linux data plane: root prerequisites (fail under CI=true, return early
// otherwise), short-lived network namespaces with unique names torn down in Dispose, bounded
// external commands, and packet builders. Network safety: everything here acts on loopback or on
// namespaces the test created; 10.98.x.y addresses are only ever configured inside those.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Concentrator.DataPlane.Linux;
using Concentrator.Ipsec;
using Xunit.Abstractions;

namespace Concentrator.Tests.DataPlane.Linux;

internal static class RootPrerequisites
{
    /// <summary>
    /// True when the test can run. Under CI=true a missing prerequisite fails the test; otherwise
    /// the reason is written to the output and the test returns early.
    /// </summary>
    public static bool Check(ITestOutputHelper output, bool needTun, params string[] tools)
    {
        string? missing = null;
        if (!OperatingSystem.IsLinux())
            missing = "not Linux";
        else if (LibC.geteuid() != 0)
            missing = "not running as root";
        else if (needTun && !File.Exists("/dev/net/tun"))
            missing = "/dev/net/tun is missing";
        else
        {
            foreach (string tool in tools)
            {
                if (Commands.Find(tool) is null)
                {
                    missing = $"tool '{tool}' is not installed";
                    break;
                }
            }
        }
        if (missing is null)
            return true;
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"Root test prerequisite missing under CI=true: {missing}");
        output.WriteLine($"NOT RUN (prerequisite missing outside CI): {missing}");
        return false;
    }
}

internal sealed record CommandResult(int ExitCode, string StdOut, string StdErr)
{
    public override string ToString() => $"exit {ExitCode}; stdout: {StdOut.Trim()}; stderr: {StdErr.Trim()}";
}

internal static class Commands
{
    public static string? Find(string tool)
    {
        string path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (string dir in path.Split(':').Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]))
        {
            if (dir.Length == 0)
                continue;
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    public static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo(Find(args[0]) ?? args[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args.Skip(1))
            psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException($"could not start {args[0]}");
    }

    public static CommandResult Finish(Process process, TimeSpan timeout)
    {
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(5000);
            return new CommandResult(-1, stdout.IsCompleted ? stdout.Result : "", "timed out");
        }
        process.WaitForExit();
        return new CommandResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static CommandResult Run(params string[] args)
    {
        using Process p = Start(args);
        return Finish(p, TimeSpan.FromSeconds(20));
    }

    public static string MustRun(params string[] args)
    {
        CommandResult r = Run(args);
        Assert.True(r.ExitCode == 0, $"`{string.Join(' ', args)}` failed: {r}");
        return r.StdOut;
    }
}

/// <summary>A network namespace with a unique name and loopback up; deleted on Dispose.</summary>
internal sealed class TestNamespace : IDisposable
{
    private TestNamespace(string name) => Name = name;

    public string Name { get; }
    public string Path => NetworkNamespace.PathOf(Name);

    public static TestNamespace Create(string prefix)
    {
        string name = $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];
        Commands.MustRun("ip", "netns", "add", name);
        var ns = new TestNamespace(name);
        try
        {
            Commands.MustRun("ip", "-n", name, "link", "set", "lo", "up");
        }
        catch
        {
            ns.Dispose();
            throw;
        }
        return ns;
    }

    public string Ip(params string[] args) => Commands.MustRun(["ip", "-n", Name, .. args]);

    public void Dispose() => Commands.Run("ip", "netns", "del", Name);
}

internal static class TestPackets
{
    public static TrafficSelector Ts(string cidrOrRange, byte protocol = 0, ushort startPort = 0, ushort endPort = 65535)
    {
        IPAddress start, end;
        int dash = cidrOrRange.IndexOf('-');
        if (dash > 0)
        {
            start = IPAddress.Parse(cidrOrRange[..dash]);
            end = IPAddress.Parse(cidrOrRange[(dash + 1)..]);
        }
        else
        {
            int slash = cidrOrRange.IndexOf('/');
            start = IPAddress.Parse(slash < 0 ? cidrOrRange : cidrOrRange[..slash]);
            byte[] bytes = start.GetAddressBytes();
            int length = slash < 0 ? bytes.Length * 8 : int.Parse(cidrOrRange[(slash + 1)..]);
            byte[] low = (byte[])bytes.Clone();
            byte[] high = (byte[])bytes.Clone();
            for (int i = 0; i < bytes.Length; i++)
            {
                int keep = Math.Clamp(length - i * 8, 0, 8);
                byte mask = (byte)(0xFF << (8 - keep));
                low[i] &= mask;
                high[i] = (byte)(low[i] | ~mask);
            }
            start = new IPAddress(low);
            end = new IPAddress(high);
        }
        var type = start.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? TsType.Ipv6AddressRange : TsType.Ipv4AddressRange;
        return new TrafficSelector(type, protocol, startPort, endPort, start, end);
    }

    public static IReadOnlyList<TrafficSelector> List(params string[] cidrs) => cidrs.Select(c => Ts(c)).ToArray();

    /// <summary>IPv4 or IPv6 packet with a UDP/TCP header (ports) or ICMP header (type/code), by the addresses' family.</summary>
    public static byte[] Ip(string source, string destination, byte protocol = 17, ushort sourcePort = 40000, ushort destinationPort = 9, int payload = 16, ushort fragmentOffset = 0)
    {
        IPAddress src = IPAddress.Parse(source), dst = IPAddress.Parse(destination);
        bool v6 = src.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        int header = v6 ? 40 : 20;
        int l4 = protocol is 6 ? 20 : 8;
        var p = new byte[header + l4 + payload];
        if (v6)
        {
            p[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(l4 + payload));
            p[6] = protocol;
            p[7] = 64;
            src.GetAddressBytes().CopyTo(p, 8);
            dst.GetAddressBytes().CopyTo(p, 24);
        }
        else
        {
            p[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), fragmentOffset);
            p[8] = 64;
            p[9] = protocol;
            src.GetAddressBytes().CopyTo(p, 12);
            dst.GetAddressBytes().CopyTo(p, 16);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum(p.AsSpan(0, 20)));
        }
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(header), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(header + 2), destinationPort);
        return p;
    }

    /// <summary>ICMP/ICMPv6 with the given type and code.</summary>
    public static byte[] Icmp(string source, string destination, byte type, byte code)
    {
        bool v6 = destination.Contains(':');
        return Ip(source, destination, v6 ? (byte)58 : (byte)1, (ushort)(type << 8 | code), 0);
    }

    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i));
        if (i < data.Length)
            sum += (uint)data[i] << 8;
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}

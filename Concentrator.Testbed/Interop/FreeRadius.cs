using System.Globalization;
using System.Text;

namespace Concentrator.Testbed.Interop;

/// <summary>A user in FreeRADIUS's files module: password (Cleartext-Password, what EAP-MSCHAPv2 needs) and reply items.</summary>
public sealed record RadiusTestUser(string Name, string Password, string? FramedIp = null, string? Class = null);

/// <summary>
/// Debian's FreeRADIUS 3 in one namespace, in the foreground with debug output (-X) to a file, from a config dir of the
/// run: /etc/freeradius/3.0 copied and overridden (raddbdir, logdir, run dir and pid file in the run's directory; no
/// privilege drop; its own ports; clients.conf with the gateway's secret; users in mods-config/files/authorize; an eap
/// module with EAP-MSCHAPv2 as default and MD5, no TLS; accounting to a detail file the test reads). /etc is never written.
/// Killed on dispose (and with its namespace).
/// </summary>
public sealed class FreeRadius : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/freeradius";
    public const string SystemConfig = "/etc/freeradius/3.0";

    private readonly Netns _ns;
    private BackgroundProcess? _process;

    private FreeRadius(Netns ns, string dir, int authPort, int acctPort)
    {
        _ns = ns;
        Dir = dir;
        AuthPort = authPort;
        AcctPort = acctPort;
    }

    public string Dir { get; }
    public int AuthPort { get; }
    public int AcctPort { get; }
    public string ConfigDir => Path.Combine(Dir, "raddb");
    public string LogPath => Path.Combine(Dir, "radiusd.log");
    public string DetailPath => Path.Combine(Dir, "accounting.detail");
    public bool Running => _process is { HasExited: false };

    public static async Task<FreeRadius> StartAsync(Netns ns, string dir, string secret, IEnumerable<RadiusTestUser> users,
        int authPort = 1812, int acctPort = 1813, TimeSpan? readyTimeout = null)
    {
        var r = new FreeRadius(ns, dir, authPort, acctPort);
        await r.WriteConfigAsync(secret, users).ConfigureAwait(false);
        await r.StartAsync(readyTimeout ?? TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        return r;
    }

    private async Task WriteConfigAsync(string secret, IEnumerable<RadiusTestUser> users)
    {
        Directory.CreateDirectory(Dir);
        if (Directory.Exists(ConfigDir)) Directory.Delete(ConfigDir, recursive: true);
        await Command.CheckAsync("cp", ["-a", SystemConfig, ConfigDir]).ConfigureAwait(false);
        Directory.CreateDirectory(Path.Combine(Dir, "log"));
        Directory.CreateDirectory(Path.Combine(Dir, "run"));
        string raddb = ConfigDir;

        var conf = await File.ReadAllLinesAsync(Path.Combine(raddb, "radiusd.conf")).ConfigureAwait(false);
        for (int i = 0; i < conf.Length; i++)
        {
            string t = conf[i].Trim();
            if (t.StartsWith("raddbdir = ", StringComparison.Ordinal)) conf[i] = $"raddbdir = {raddb}";
            else if (t.StartsWith("logdir = ", StringComparison.Ordinal)) conf[i] = $"logdir = {Path.Combine(Dir, "log")}";
            else if (t.StartsWith("run_dir = ", StringComparison.Ordinal)) conf[i] = $"run_dir = {Path.Combine(Dir, "run")}";
            else if (t is "user = freerad" or "group = freerad") conf[i] = "#" + conf[i];
        }
        await File.WriteAllLinesAsync(Path.Combine(raddb, "radiusd.conf"), conf).ConfigureAwait(false);

        foreach (var f in Directory.GetFiles(Path.Combine(raddb, "sites-enabled"))) File.Delete(f);
        foreach (var name in new[] { "eap", "detail", "detail.log" })
        {
            var path = Path.Combine(raddb, "mods-enabled", name);
            if (File.Exists(path) || new FileInfo(path).LinkTarget is not null) File.Delete(path);
        }
        await File.WriteAllTextAsync(Path.Combine(raddb, "mods-enabled", "eap"), """
            eap {
            	default_eap_type = mschapv2
            	timer_expire = 60
            	ignore_unknown_eap_types = no
            	cisco_accounting_username_bug = no
            	max_sessions = ${max_requests}
            	md5 {
            	}
            	mschapv2 {
            	}
            }

            """).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(raddb, "mods-enabled", "detail"), $$"""
            detail {
            	filename = {{DetailPath}}
            	permissions = 0600
            	header = "%t"
            }

            """).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(raddb, "sites-enabled", "gateway"), $$"""
            server default {
            listen {
            	type = auth
            	ipaddr = *
            	port = {{AuthPort}}
            }
            listen {
            	type = acct
            	ipaddr = *
            	port = {{AcctPort}}
            }
            authorize {
            	eap {
            		ok = return
            	}
            	files
            }
            authenticate {
            	Auth-Type MS-CHAP {
            		mschap
            	}
            	eap
            }
            preacct {
            	acct_unique
            }
            accounting {
            	detail
            }
            post-auth {
            	Post-Auth-Type REJECT {
            		attr_filter.access_reject
            		eap
            		remove_reply_message_if_eap
            	}
            }
            }

            """).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(raddb, "clients.conf"), $$"""
            client gateway {
            	ipaddr = 0.0.0.0/0
            	secret = {{secret}}
            }

            """).ConfigureAwait(false);
        var authorize = new StringBuilder();
        foreach (var u in users)
        {
            var reply = new List<string>();
            if (u.FramedIp is { } ip) reply.Add($"\tFramed-IP-Address = {ip}");
            if (u.Class is { } c) reply.Add($"\tClass = \"{c}\"");
            authorize.Append(CultureInfo.InvariantCulture, $"{u.Name}\tCleartext-Password := \"{u.Password}\"\n");
            if (reply.Count > 0) authorize.Append(string.Join(",\n", reply)).Append('\n');
            authorize.Append('\n');
        }
        await File.WriteAllTextAsync(Path.Combine(raddb, "mods-config", "files", "authorize"), authorize.ToString()).ConfigureAwait(false);
    }

    /// <summary>Starts (or restarts) the daemon and waits, bounded, for "Ready to process requests".</summary>
    public async Task StartAsync(TimeSpan readyTimeout)
    {
        if (Running) return;
        if (File.Exists(LogPath)) File.Move(LogPath, LogPath + "." + DateTime.UtcNow.Ticks, overwrite: true);
        _process = _ns.Start([Binary, "-X", "-d", ConfigDir], LogPath, Path.Combine(Dir, "radiusd.stderr"), termGrace: TimeSpan.FromSeconds(3));
        var until = DateTime.UtcNow + readyTimeout;
        while (DateTime.UtcNow < until)
        {
            if (_process.HasExited) throw new InvalidOperationException($"freeradius exited with {_process.ExitCode}:\n{Tail()}");
            if (Log().Contains("Ready to process requests", StringComparison.Ordinal)) return;
            await Task.Delay(100).ConfigureAwait(false);
        }
        throw new TimeoutException($"freeradius not ready after {readyTimeout.TotalSeconds:0} s:\n{Tail()}");
    }

    /// <summary>Stops the daemon (the second server then has to answer).</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        await _ns.StopAsync(_process).ConfigureAwait(false);
        _process = null;
    }

    public string Log()
    {
        try
        {
            using var s = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return new StreamReader(s).ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
    }

    private string Tail()
    {
        var lines = Log().Split('\n');
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 40)));
    }

    /// <summary>The accounting records in the detail file: one dictionary of attribute → value (quotes removed) each.</summary>
    public IReadOnlyList<Dictionary<string, string>> AccountingRecords()
    {
        var records = new List<Dictionary<string, string>>();
        if (!File.Exists(DetailPath)) return records;
        Dictionary<string, string>? current = null;
        foreach (var raw in File.ReadAllLines(DetailPath))
        {
            if (raw.Length == 0)
            {
                current = null;
                continue;
            }
            if (!char.IsWhiteSpace(raw[0]))
            {
                current = new Dictionary<string, string>(StringComparer.Ordinal);
                records.Add(current);
                continue;
            }
            int eq = raw.IndexOf(" = ", StringComparison.Ordinal);
            if (current is null || eq < 0) continue;
            current[raw[..eq].Trim()] = raw[(eq + 3)..].Trim().Trim('"');
        }
        return records;
    }

    public string Diagnostics() => $"freeradius in {_ns.Name} ({(Running ? "running" : "stopped")}), log tail:\n{Tail()}\ndetail:\n" +
                                   (File.Exists(DetailPath) ? File.ReadAllText(DetailPath) : "(none)");

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}

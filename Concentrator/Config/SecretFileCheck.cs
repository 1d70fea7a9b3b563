using Concentrator.Telemetry;

namespace Concentrator.Config;

/// <summary>
/// A configuration file holding PSKs must not be readable by other users (like swanctl.conf/ipsec.secrets,
/// which strongSwan ships 0600). Checked once at start; a warning, not an error, so a misconfigured
/// mode does not take tunnels down.
/// </summary>
public static class SecretFileCheck
{
    /// <summary>"group", "others" or "group and others" when a config with secrets is readable by them; else null.</summary>
    public static string? ExposedTo(string file, ConcentratorConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        bool holdsSecrets = config.Secrets.Count > 0 || config.Charon.EapRadius is { Servers.Count: > 0 };
        if (!holdsSecrets || OperatingSystem.IsWindows() || !File.Exists(file)) return null;
        var mode = File.GetUnixFileMode(file);
        bool group = (mode & UnixFileMode.GroupRead) != 0, others = (mode & UnixFileMode.OtherRead) != 0;
        return (group, others) switch
        {
            (true, true) => "group and others",
            (true, false) => "group",
            (false, true) => "others",
            _ => null,
        };
    }

    /// <summary>Logs <see cref="Log.SecretsFileExposed"/> when <see cref="ExposedTo"/> says so; true if it did.</summary>
    public static bool WarnIfExposed(string file, ConcentratorConfig config, ILogger log)
    {
        if (ExposedTo(file, config) is not { } who) return false;
        string mode = OperatingSystem.IsWindows() ? "?" : Convert.ToString((int)File.GetUnixFileMode(file), 8).PadLeft(4, '0');
        Log.SecretsFileExposed(log, file, who, mode);
        return true;
    }
}

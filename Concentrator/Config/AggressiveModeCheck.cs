using Concentrator.Telemetry;

namespace Concentrator.Config;

/// <summary>
/// Connections with <c>aggressive: yes</c> are logged as a warning at start and on every reload: aggressive mode sends
/// the identities in clear and, with a PSK, a hash an eavesdropper can attack offline (RFC 2409 §5.4's HASH_R).
/// </summary>
public static class AggressiveModeCheck
{
    /// <summary>Logs <see cref="Log.AggressiveModeEnabled"/> once per such connection; returns how many.</summary>
    public static int WarnEach(ConcentratorConfig config, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(config);
        int warned = 0;
        foreach (var (name, connection) in config.Connections)
        {
            if (!connection.Aggressive) continue;
            Log.AggressiveModeEnabled(log, name);
            warned++;
        }
        return warned;
    }
}

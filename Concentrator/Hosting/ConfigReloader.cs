using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.DataPlane.Linux;
using Concentrator.Ike.Connections;
using Concentrator.Telemetry;

namespace Concentrator.Hosting;

/// <summary>What a reload did: <see cref="Outcome"/> is applied, refused (restart-only keys changed: <see cref="RestartKeys"/>)
/// or invalid (the file did not load: <see cref="Message"/> names file, key and problem).</summary>
public sealed record ReloadResult(
    string Outcome,
    string Message,
    IReadOnlyList<string> ConnectionsAdded,
    IReadOnlyList<string> ConnectionsRemoved,
    IReadOnlyList<string> ConnectionsChanged,
    IReadOnlyList<string> PoolsAdded,
    IReadOnlyList<string> PoolsRemoved,
    IReadOnlyList<string> PoolsChanged,
    IReadOnlyList<string> RestartKeys,
    int SasDeleted)
{
    public const string Applied = "applied";
    public const string Refused = "refused";
    public const string Invalid = "invalid";

    public bool Ok => Outcome == Applied;

    internal static ReloadResult NotApplied(string outcome, string message, IReadOnlyList<string>? restartKeys = null) =>
        new(outcome, message, [], [], [], [], [], [], restartKeys ?? [], 0);
}

/// <summary>
/// What changed between the configuration in force and a reloaded file, by key path (<see cref="ConcentratorConfig.KeyValues"/>):
/// never the values, which may be secrets.
/// </summary>
public sealed record ConfigDiff(IReadOnlyList<string> Added, IReadOnlyList<string> Removed, IReadOnlyList<string> Changed,
    IReadOnlyList<string> RestartKeys)
{
    /// <summary>
    /// Sections sized or bound at start: sockets (listen, http), the TUN plane and its workers (tunnel), the actor system's
    /// cluster membership (cluster), and charon's limits, timers and routing table, which the admission gate, the SAs'
    /// tunables and the data plane copy once. A change to any key under them needs a restart.
    /// </summary>
    public static readonly string[] RestartSections = ["listen", "http", "tunnel", "charon", "cluster"];

    public static ConfigDiff Compare(ConcentratorConfig current, ConcentratorConfig next)
    {
        var restart = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var key in current.KeyValues.Keys.Union(next.KeyValues.Keys))
        {
            if (!RestartSections.Contains(key.Split('.', 2)[0])) continue;
            if (current.KeyValues.TryGetValue(key, out var a) && next.KeyValues.TryGetValue(key, out var b) && a == b) continue;
            // A list's items are one key to the operator: "listen.addresses", not "listen.addresses[1]".
            int index = key.IndexOf('[');
            restart.Add(index < 0 ? key : key[..index]);
        }

        var added = next.Connections.Keys.Where(n => !current.Connections.ContainsKey(n)).ToList();
        var removed = current.Connections.Keys.Where(n => !next.Connections.ContainsKey(n)).ToList();
        var changed = next.Connections.Keys.Where(n => current.Connections.TryGetValue(n, out var old) && Differs(current, next, n, old, next.Connections[n]))
            .ToList();
        return new ConfigDiff(added, removed, changed, restart.ToList());
    }

    /// <summary>A connection whose keys (its children's included) were written differently; a config built in memory has no
    /// keys, and then only the same object is unchanged. Files its keys name (certificates) are re-read either way.</summary>
    private static bool Differs(ConcentratorConfig current, ConcentratorConfig next, string name, ConnectionConfig a, ConnectionConfig b)
    {
        if (current.KeyValues.Count == 0 || next.KeyValues.Count == 0) return !ReferenceEquals(a, b);
        string prefix = $"connections.{name}";
        var x = Under(current.KeyValues, prefix);
        var y = Under(next.KeyValues, prefix);
        return x.Count != y.Count || x.Any(kv => !y.TryGetValue(kv.Key, out var v) || v != kv.Value);
    }

    private static Dictionary<string, string> Under(IReadOnlyDictionary<string, string> values, string prefix) =>
        values.Where(kv => kv.Key == prefix || kv.Key.StartsWith(prefix + ".", StringComparison.Ordinal) || kv.Key.StartsWith(prefix + "[", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
}

/// <summary>
/// <c>Concentrator reload</c> and SIGHUP (swanctl --load-all): re-reads the file the gateway was started with, with the
/// same loader, and swaps it in. All or nothing: a file that does not load, or that changes a restart-only key
/// (<see cref="ConfigDiff.RestartSections"/>), changes nothing and says why. Otherwise, as swanctl does:
/// <list type="bullet">
/// <item>connections, secrets (PSKs, private keys), certificates, CAs and CRLs are replaced for new SAs at once: the
///   resolver swaps one immutable config, so a new IKE_SA_INIT sees the old set or the new one;</item>
/// <item>an existing SA of a changed connection keeps running on the <see cref="ConnectionConfig"/> it was made with
///   (its rekeys too) until it ends or reauthenticates (strongSwan's peer_cfg reference); nothing is torn down;</item>
/// <item>IKE SAs of a removed connection are deleted with their peers (a Delete each), and their traps and routes go;</item>
/// <item>added connections with start_action start are initiated, and trap policies of added or changed children installed;</item>
/// <item>pools: <see cref="Ike.Attributes.AddressPools.Replace"/> (leases of a removed pool stay valid until their SAs go).</item>
/// </list>
/// One reload at a time.
/// </summary>
public sealed class ConfigReloader(Gateway gateway, ILogger log)
{
    private readonly SemaphoreSlim _one = new(1, 1);

    public async Task<ReloadResult> ReloadAsync()
    {
        await _one.WaitAsync().ConfigureAwait(false);
        try
        {
            var result = await ApplyAsync().ConfigureAwait(false);
            gateway.Metrics.CountReload(result.Outcome);
            return result;
        }
        finally
        {
            _one.Release();
        }
    }

    private async Task<ReloadResult> ApplyAsync()
    {
        var current = gateway.Config;
        string path = current.Source;
        if (gateway.ConfigResolver is null)
        {
            const string why = "this gateway was built without a config file's connections (a resolver of its own)";
            Log.ConfigReloadRefused(log, path, why);
            return ReloadResult.NotApplied(ReloadResult.Refused, why);
        }

        ConcentratorConfig next;
        try
        {
            next = ConcentratorConfig.Load(path);
        }
        catch (ConfigException e)
        {
            Log.ConfigReloadInvalid(log, e.Message);
            return ReloadResult.NotApplied(ReloadResult.Invalid, $"not reloaded, the running configuration is kept: {e.Message}");
        }

        var diff = ConfigDiff.Compare(current, next);
        if (diff.RestartKeys.Count > 0)
        {
            string why = $"{string.Join(", ", diff.RestartKeys)} changed; {(diff.RestartKeys.Count == 1 ? "it needs" : "they need")} a restart " +
                         "(nothing was applied: undo the change to reload the rest, or restart)";
            Log.ConfigReloadRefused(log, path, why);
            return ReloadResult.NotApplied(ReloadResult.Refused, $"not reloaded: {why}", diff.RestartKeys);
        }

        SecretFileCheck.WarnIfExposed(path, next, log);
        WeakAlgorithmCheck.WarnEach(next, log);
        AggressiveModeCheck.WarnEach(next, log);
        var pools = gateway.SwapConfig(next);
        foreach (var pool in pools.Removed) gateway.Metrics.RemovePool(pool);
        if (gateway.Options.DataPlane is LinuxDataPlane linux)
        {
            var options = next.ToDataPlaneOptions();
            linux.Reconfigure(options.Traps, options.PoolRoutes);
            linux.EnsureInterfaces(options.InterfaceIds);
        }

        // The new configuration is in force from the swap on: what follows may fall short, never undo it or report it refused.
        int deleted = 0;
        try
        {
            if (diff.Removed.Count > 0) deleted = await DeleteSasOfAsync(diff.Removed).ConfigureAwait(false);
        }
        catch (AskTimeoutException e)
        {
            Log.ReloadDeleteDeferred(log, string.Join(", ", diff.Removed), e.Message);
        }
        if (diff.Removed.Count > 0) _ = SweepAgainAsync(diff.Removed, next.Charon.HalfOpenTimeout);
        gateway.StartConnections(diff.Added.Select(n => next.Connections[n]));

        Log.ConfigReloaded(log, path, string.Join(", ", diff.Added), string.Join(", ", diff.Removed), string.Join(", ", diff.Changed),
            string.Join(", ", pools.Added), string.Join(", ", pools.Removed), string.Join(", ", pools.Changed), next.Secrets.Count);
        string message = $"reloaded {path}: connections {Summary(diff.Added, diff.Removed, diff.Changed)}; pools " +
                         $"{Summary(pools.Added, pools.Removed, pools.Changed)}; {next.Secrets.Count} secrets" +
                         (deleted > 0 ? $"; deleting {deleted} IKE SA(s) of removed connections" : "");
        return new ReloadResult(ReloadResult.Applied, message, diff.Added, diff.Removed, diff.Changed, pools.Added, pools.Removed,
            pools.Changed, [], deleted);
    }

    private static string Summary(IReadOnlyList<string> added, IReadOnlyList<string> removed, IReadOnlyList<string> changed) =>
        added.Count + removed.Count + changed.Count == 0
            ? "unchanged"
            : string.Join(", ", new[] { ("added", added), ("removed", removed), ("changed", changed) }
                .Where(p => p.Item2.Count > 0).Select(p => $"{p.Item1} {string.Join(" ", p.Item2)}"));

    /// <summary>A Delete to the peer of every IKE SA of <paramref name="connections"/>; how many were told.</summary>
    private async Task<int> DeleteSasOfAsync(IReadOnlyCollection<string> connections)
    {
        var doomed = (await AdminApi.ActorsAsync(gateway).ConfigureAwait(false)).Where(a => connections.Contains(a.Info.Connection)).ToList();
        if (doomed.Count > 0) Log.ReloadDeletingSas(log, doomed.Count, string.Join(", ", connections));
        foreach (var (actor, _) in doomed) actor.Tell(IkeSaActor.DeleteIkeSa.Instance);
        return doomed.Count;
    }

    /// <summary>
    /// An IKE_SA_INIT answered just before the swap took its candidates from the old set and may still authenticate on a
    /// removed connection. It does so within half_open_timeout or not at all, so one more sweep then catches it.
    /// </summary>
    private async Task SweepAgainAsync(IReadOnlyCollection<string> connections, TimeSpan halfOpenTimeout)
    {
        try
        {
            await Task.Delay(halfOpenTimeout).ConfigureAwait(false);
            // A later reload may have added a connection of the same name again.
            var stillGone = connections.Where(n => !gateway.Config.Connections.ContainsKey(n)).ToList();
            if (stillGone.Count > 0) await DeleteSasOfAsync(stillGone).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The gateway is shutting down: its SAs are being deleted anyway.
        }
    }
}

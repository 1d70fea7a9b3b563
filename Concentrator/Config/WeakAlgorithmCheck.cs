using Concentrator.Ike.Connections;
using Concentrator.Ike.Proposals;
using Concentrator.Telemetry;

namespace Concentrator.Config;

/// <summary>
/// Connections that opt into the weak algorithms (<see cref="ConnectionConfig.WeakAlgorithms"/>) are logged once
/// at start: the opt-in must stay visible to whoever runs the gateway, not only to whoever wrote the file.
/// </summary>
public static class WeakAlgorithmCheck
{
    /// <summary>The weak keywords a connection's written proposals use (IKE, then each child's ESP), once each; "none" if none.</summary>
    public static string WeakKeywords(ConnectionConfig connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        // strongSwan's "default" lists name 3des and sha1 but never offer them.
        var names = connection.Proposals.Where(p => !ProposalParser.IsDefault(p)).SelectMany(WeakAlgorithms.All)
            .Concat(connection.Children.Values.SelectMany(c => c.EspProposals).Where(p => !ProposalParser.IsDefault(p)).SelectMany(WeakAlgorithms.All))
            .Distinct()
            .ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names);
    }

    /// <summary>Logs <see cref="Log.WeakAlgorithmsEnabled"/> once per connection with weak_algorithms; returns how many.</summary>
    public static int WarnEach(ConcentratorConfig config, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(config);
        int warned = 0;
        foreach (var (name, connection) in config.Connections)
        {
            if (!connection.WeakAlgorithms) continue;
            Log.WeakAlgorithmsEnabled(log, name, WeakKeywords(connection));
            warned++;
        }
        return warned;
    }
}

using Concentrator.Ike.Proposals;

namespace Concentrator.Ike.Connections;

/// <summary>
/// A Child SA (swanctl connections.&lt;conn&gt;.children.&lt;child&gt;). When loaded from YAML:
/// life_time defaults to 110% of rekey_time and rand_time to life_time - rekey_time; the byte and
/// packet limits likewise (life = rekey + 10%, rand = life - rekey); traffic selectors default to
/// "dynamic" and ESP proposals to the strongSwan "default" set.
/// </summary>
public sealed class ChildConfig
{
    /// <summary>Largest accepted replay_window (packets). 0 disables replay protection; 1..31 are raised to 32.</summary>
    public const int MaxReplayWindow = 65536;

    public string Name { get; init; } = "";
    public IReadOnlyList<TrafficSelectorSpec> LocalTs { get; init; } = [];
    public IReadOnlyList<TrafficSelectorSpec> RemoteTs { get; init; } = [];
    public IReadOnlyList<EspProposal> EspProposals { get; init; } = [];
    /// <summary>tunnel | transport (beet, pass and drop are refused by the loader).</summary>
    public string Mode { get; init; } = "tunnel";

    /// <summary>mode: transport: the child asks for (initiator) or accepts (responder) USE_TRANSPORT_MODE, RFC 7296 §1.3.1.</summary>
    public bool Transport => Mode == "transport";
    /// <summary>none | trap | start.</summary>
    public string StartAction { get; init; } = "none";
    /// <summary>clear | trap | restart.</summary>
    public string DpdAction { get; init; } = "clear";
    /// <summary>none (trap and start are refused by the loader until they are built).</summary>
    public string CloseAction { get; init; } = "none";
    public TimeSpan RekeyTime { get; init; } = TimeSpan.FromHours(1);
    public TimeSpan LifeTime { get; init; } = TimeSpan.Zero;
    public TimeSpan RandTime { get; init; } = TimeSpan.Zero;
    public ulong RekeyBytes { get; init; }
    public ulong LifeBytes { get; init; }
    public ulong RandBytes { get; init; }
    public ulong RekeyPackets { get; init; }
    public ulong LifePackets { get; init; }
    public ulong RandPackets { get; init; }
    public int ReplayWindow { get; init; } = 128;

    /// <summary>swanctl if_id_in / if_id_out: 0 (default) is the shared interface; N &gt; 0 puts the child's SAs on the
    /// route-based interface ipsec&lt;N&gt; with its own selector table and no routes installed by the gateway.</summary>
    public uint InterfaceIdIn { get; init; }
    public uint InterfaceIdOut { get; init; }

    /// <summary>swanctl updown: the absolute path of a script run (without a shell) with strongSwan's PLUTO_* environment when
    /// a Child SA of this child comes up and goes down on this node; null when none. Checked executable at load.</summary>
    public string? Updown { get; init; }
}

// CONTRACT FILE: the config helper replaces these declarations with real implementations,
// one type per file, keeping every public signature below.
using System.Net;
using Concentrator.Ike.Proposals;

namespace Concentrator.Config;

/// <summary>Config error that names the file, the key path and what is wrong.</summary>
public sealed class ConfigException(string file, string keyPath, string problem)
    : Exception($"{file}: {keyPath}: {problem}")
{
    public string File { get; } = file;
    public string KeyPath { get; } = keyPath;
    public string Problem { get; } = problem;
}

public sealed class ConcentratorConfig
{
    public ListenConfig Listen { get; init; } = new();
    public HttpConfig Http { get; init; } = new();
    public TunnelConfig Tunnel { get; init; } = new();
    public IReadOnlyDictionary<string, ConnectionConfig> Connections { get; init; } = new Dictionary<string, ConnectionConfig>();
    public IReadOnlyList<SecretConfig> Secrets { get; init; } = [];
    public string Source { get; init; } = "<memory>";

    public static ConcentratorConfig Load(string path) => throw new NotImplementedException();
    public static ConcentratorConfig Parse(string yaml, string sourceName) => throw new NotImplementedException();

    /// <summary>strongSwan's shared-key lookup: best match of both identities ("%any" and empty id lists match anything).</summary>
    public byte[]? FindSharedKey(string localId, string remoteId) => throw new NotImplementedException();
}

public sealed class ListenConfig
{
    public IReadOnlyList<IPAddress> Addresses { get; init; } = [IPAddress.Any];
    public int IkePort { get; init; } = 500;
    public int NattPort { get; init; } = 4500;
}

public sealed class HttpConfig
{
    public string Listen { get; init; } = "127.0.0.1:9400";
}

public sealed class TunnelConfig
{
    public string Device { get; init; } = "ipsec0";
    public int Mtu { get; init; } = 1400;
}

public sealed class AuthConfig
{
    public string Auth { get; init; } = "psk";
    public string Id { get; init; } = "%any";
}

public sealed class SecretConfig
{
    public string Name { get; init; } = "";
    public IReadOnlyList<string> Ids { get; init; } = [];
    public byte[] Secret { get; init; } = [];
}

public sealed class ConnectionConfig
{
    public string Name { get; init; } = "";
    public int Version { get; init; } = 2;
    public IReadOnlyList<string> LocalAddrs { get; init; } = ["%any"];
    public IReadOnlyList<string> RemoteAddrs { get; init; } = ["%any"];
    public int? LocalPort { get; init; }
    public int? RemotePort { get; init; }
    public IReadOnlyList<IkeProposal> Proposals { get; init; } = [];
    public AuthConfig Local { get; init; } = new();
    public AuthConfig Remote { get; init; } = new();
    public IReadOnlyDictionary<string, ChildConfig> Children { get; init; } = new Dictionary<string, ChildConfig>();
    public bool Encap { get; init; }
    public TimeSpan RekeyTime { get; init; } = TimeSpan.FromHours(4);
    public TimeSpan ReauthTime { get; init; } = TimeSpan.Zero;
    public TimeSpan OverTime { get; init; } = TimeSpan.Zero;
    public TimeSpan RandTime { get; init; } = TimeSpan.Zero;
    public TimeSpan DpdDelay { get; init; } = TimeSpan.Zero;
    public TimeSpan DpdTimeout { get; init; } = TimeSpan.Zero;
    public int KeyingTries { get; init; } = 1;
    public bool SendCertReq { get; init; } = true;
    public string Unique { get; init; } = "no";
}

public sealed class ChildConfig
{
    public string Name { get; init; } = "";
    public IReadOnlyList<TrafficSelectorSpec> LocalTs { get; init; } = [];
    public IReadOnlyList<TrafficSelectorSpec> RemoteTs { get; init; } = [];
    public IReadOnlyList<EspProposal> EspProposals { get; init; } = [];
    public string Mode { get; init; } = "tunnel";
    public string StartAction { get; init; } = "none";
    public string DpdAction { get; init; } = "clear";
    public string CloseAction { get; init; } = "none";
    public TimeSpan RekeyTime { get; init; } = TimeSpan.FromHours(1);
    public TimeSpan LifeTime { get; init; } = TimeSpan.Zero;
    public TimeSpan RandTime { get; init; } = TimeSpan.Zero;
    public ulong RekeyBytes { get; init; }
    public ulong LifeBytes { get; init; }
    public ulong RekeyPackets { get; init; }
    public ulong LifePackets { get; init; }
    public int ReplayWindow { get; init; } = 128;
}

using System.Net;

namespace Concentrator.Config;

/// <summary>Where IKE listens. Port 0 asks the OS for an ephemeral port (tests).</summary>
public sealed class ListenConfig
{
    public IReadOnlyList<IPAddress> Addresses { get; init; } = [IPAddress.Any];
    public int IkePort { get; init; } = 500;
    public int NattPort { get; init; } = 4500;
}

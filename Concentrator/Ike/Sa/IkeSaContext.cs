using System.Security.Cryptography;
using Concentrator.DataPlane;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.Ike.Sa;

/// <summary>Services an IKE SA uses; shared by all SAs of a gateway.</summary>
public sealed class IkeSaContext
{
    public required IConnectionResolver Resolver { get; init; }
    public required IDataPlane DataPlane { get; init; }
    public IkeTunables Tunables { get; init; } = IkeTunables.Default;
    public int NattPort { get; init; } = UdpEncapsulation.NatTraversalPort;

    /// <summary>Where this node counts; the default is never scraped (protocol tests).</summary>
    public ConcentratorMetrics Metrics { get; init; } = ConcentratorMetrics.Detached;

    /// <summary>Resource bounds (charon: section); enforced where each resource is spent.</summary>
    public ResourceLimits Limits { get; init; } = ResourceLimits.Default;

    /// <summary>Serves the EAP methods of remote rounds (eap-mschapv2, eap-radius, eap); none: an EAP peer is refused.</summary>
    public Eap.IEapSessionFactory? EapSessions { get; init; }

    /// <summary>The virtual IP pools (swanctl pools) responders lease from; none by default.</summary>
    public AddressPools Pools { get; init; } = AddressPools.None;

    private ReassemblyBudget? _reassembly;

    /// <summary>charon.fragment_memory, shared by every SA of this context (made on first use, from <see cref="Limits"/>).</summary>
    public ReassemblyBudget Reassembly =>
        LazyInitializer.EnsureInitialized(ref _reassembly, () => new ReassemblyBudget(Limits.FragmentMemory, Metrics));

    /// <summary>Source of every nonce we send (length in bytes). Tests replace it to decide the lowest-nonce rule
    /// of a rekey collision (RFC 7296 §2.8.1, §2.8.2); production uses the CSPRNG.</summary>
    internal Func<int, byte[]> NonceSource { get; set; } = RandomNumberGenerator.GetBytes;

    /// <summary>Monotonic milliseconds (dpd_timeout); tests replace it to step time.</summary>
    internal Func<long> Clock { get; set; } = () => Environment.TickCount64;
}

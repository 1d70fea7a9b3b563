// CONTRACT FILE: the config helper replaces these declarations with real implementations,
// one type per file, keeping every public signature below.
using System.Net;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Proposals;

public readonly record struct EncryptionChoice(EncrAlgorithm Algorithm, int KeyBits);

/// <summary>One configured IKE proposal (one swanctl proposal string).</summary>
public sealed record IkeProposal(
    IReadOnlyList<EncryptionChoice> Encryption,
    IReadOnlyList<IntegAlgorithm> Integrity,
    IReadOnlyList<PrfAlgorithm> Prf,
    IReadOnlyList<DhGroup> Groups);

/// <summary>One configured ESP proposal. Groups non-empty means PFS on rekey.</summary>
public sealed record EspProposal(
    IReadOnlyList<EncryptionChoice> Encryption,
    IReadOnlyList<IntegAlgorithm> Integrity,
    IReadOnlyList<DhGroup> Groups,
    IReadOnlyList<EsnMode> Esn);

public static class ProposalParser
{
    /// <summary>Parses swanctl keyword syntax ("aes256gcm16-prfsha256-ecp256"). Error text names the bad keyword.</summary>
    public static bool TryParseIke(string text, out IkeProposal? proposal, out string? error) => throw new NotImplementedException();
    public static bool TryParseEsp(string text, out EspProposal? proposal, out string? error) => throw new NotImplementedException();
    /// <summary>strongSwan's "default" IKE proposals (what the keyword expands to).</summary>
    public static IReadOnlyList<IkeProposal> DefaultIke => throw new NotImplementedException();
    public static IReadOnlyList<EspProposal> DefaultEsp => throw new NotImplementedException();
}

public static class ProposalSelector
{
    /// <summary>Wire SA proposals (numbered from 1) for what we offer as initiator. SPI = our IKE SPI (8 bytes) or empty for IKE_SA_INIT.</summary>
    public static IReadOnlyList<Proposal> ToWire(IReadOnlyList<IkeProposal> proposals, byte[] spi) => throw new NotImplementedException();
    public static IReadOnlyList<Proposal> ToWire(IReadOnlyList<EspProposal> proposals, byte[] spi, bool includeGroups) => throw new NotImplementedException();
    /// <summary>Responder choice (RFC 7296 §2.7): our configured order wins; returns the single chosen wire proposal (with peer's number and SPI) and the suite.</summary>
    public static bool TrySelectIke(IReadOnlyList<IkeProposal> configured, IReadOnlyList<Proposal> offered, out Proposal? chosen, out IkeSuite suite) => throw new NotImplementedException();
    public static bool TrySelectEsp(IReadOnlyList<EspProposal> configured, IReadOnlyList<Proposal> offered, bool requireGroup, out Proposal? chosen, out EspSuite suite) => throw new NotImplementedException();
    /// <summary>Initiator side: check the responder's single proposal is one we offered and extract the suite.</summary>
    public static bool TryAcceptIke(IReadOnlyList<IkeProposal> offered, Proposal answer, out IkeSuite suite) => throw new NotImplementedException();
    public static bool TryAcceptEsp(IReadOnlyList<EspProposal> offered, Proposal answer, out EspSuite suite) => throw new NotImplementedException();
}

/// <summary>A configured traffic selector: "10.0.0.0/24", "10.0.0.1-10.0.0.9", "dynamic", optional "[proto/port]".</summary>
public sealed record TrafficSelectorSpec(bool Dynamic, TrafficSelector? Selector, byte IpProtocol, ushort StartPort, ushort EndPort)
{
    public static bool TryParse(string text, out TrafficSelectorSpec? spec, out string? error) => throw new NotImplementedException();
    /// <summary>Concrete selector; "dynamic" becomes the host address given.</summary>
    public TrafficSelector Resolve(IPAddress dynamicAddress) => throw new NotImplementedException();
}

public static class TrafficSelectorNarrowing
{
    /// <summary>RFC 7296 §2.9: intersect what the peer proposed with what we allow; empty means TS_UNACCEPTABLE.</summary>
    public static IReadOnlyList<TrafficSelector> Narrow(IReadOnlyList<TrafficSelector> proposed, IReadOnlyList<TrafficSelector> allowed) => throw new NotImplementedException();
    /// <summary>True when every selector in <paramref name="inner"/> lies inside some selector of <paramref name="outer"/>.</summary>
    public static bool IsSubset(IReadOnlyList<TrafficSelector> inner, IReadOnlyList<TrafficSelector> outer) => throw new NotImplementedException();
}

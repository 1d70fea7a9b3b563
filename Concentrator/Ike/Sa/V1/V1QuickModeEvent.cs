using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Sa.V1;

public enum V1QuickModeEventKind
{
    Established = 0,
    Refused = 1,
}

/// <summary>Something quick mode did that the host logs (the SA has no logger). <paramref name="Detail"/> names algorithms,
/// selectors and SPIs, never key material.</summary>
public sealed record V1QuickModeEvent(V1QuickModeEventKind Kind, string Child, uint InboundSpi, uint OutboundSpi, V1NotifyType Notify, string Detail)
    : IkeEffect;

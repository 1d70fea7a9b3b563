using Concentrator.Ike.Connections;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// Phase 1 identities (IDii/IDir, RFC 2407 §4.6.2) as the <see cref="Identity"/> IKEv2 uses: the IPsec DOI numbers the
/// address, FQDN, USER_FQDN, DN, GN and KEY_ID types as IKEv2 does (RFC 7296 §3.5 kept them), so the same matching,
/// certificate binding and PSK lookup apply. Subnets and ranges are quick mode selectors, never a peer's identity.
/// </summary>
public static class V1Identities
{
    /// <summary>The identity of a phase 1 ID payload; null for a subnet or range. Never throws.</summary>
    public static Identity? FromPayload(V1IdPayload payload) => payload.IdType switch
    {
        V1IdType.Ipv4Address or V1IdType.Fqdn or V1IdType.UserFqdn or V1IdType.Ipv6Address or V1IdType.DerAsn1Dn
            or V1IdType.DerAsn1Gn or V1IdType.KeyId => Identity.FromPayload(new IdPayload(PayloadType.IdInitiator, (IdType)payload.IdType, payload.Data)),
        _ => null,
    };

    /// <summary>Our phase 1 ID payload: protocol and port 0 (RFC 2407 §4.6.2 allows the UDP 500 pair; charon sends 0/0).</summary>
    public static V1IdPayload ToPayload(Identity identity) =>
        identity.IsAny ? throw new InvalidOperationException("%any is a pattern, not an identity to send") : new((V1IdType)identity.Type, identity.Data);
}

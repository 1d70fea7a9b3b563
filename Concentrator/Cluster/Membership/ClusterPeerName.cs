using System.Security.Cryptography.X509Certificates;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Wire;

namespace Concentrator.Cluster.Membership;

/// <summary>
/// <c>cluster.tls.remote_id</c>: the name every other node's certificate must carry, an <see cref="Identity"/> in
/// strongSwan's notation matched against the certificate as a connection's remote.id is
/// (<see cref="CertificateIdentity.Matches"/>): an FQDN (<c>fqdn:</c> prefix optional) against its DNS subjectAltNames,
/// case-insensitively, a leading <c>*</c> matching any prefix (<c>*.cluster.test</c> accepts <c>n1.cluster.test</c>, not
/// <c>cluster.test</c>); a DN (<c>asn1dn:</c> prefix, or text with <c>=</c>) against the subject RDN by RDN, a value of
/// <c>*</c> matching any one value; an IP address against the iPAddress subjectAltNames. %any and a bare <c>*</c> are
/// refused: they would admit any certificate the CA ever issued, for any purpose.
/// </summary>
public sealed class ClusterPeerName
{
    private readonly Identity _id;

    private ClusterPeerName(string text, Identity id)
    {
        Text = text;
        _id = id;
    }

    public string Text { get; }

    /// <summary>The parsed name, or null with <paramref name="error"/> saying why.</summary>
    public static ClusterPeerName? TryParse(string text, out string error)
    {
        error = "";
        if (!Identity.TryParse(text, out var id, out var parseError) || id is null)
        {
            error = $"'{text}': {parseError}";
            return null;
        }
        // "fqdn:*" is an FQDN pattern that matches every name, as %any does.
        if (id.IsAny || id.Data is [(byte)'*'])
        {
            error = $"'{text}' would accept any certificate the CA issued; name the nodes (e.g. *.concentrator-cluster.vpn.svc.cluster.local)";
            return null;
        }
        if (id.Type is not (IdType.Fqdn or IdType.DerAsn1Dn or IdType.Ipv4Address or IdType.Ipv6Address))
        {
            error = $"'{text}': identity type {id.Type} is not supported for cluster nodes (fqdn:, asn1dn: or an IP address)";
            return null;
        }
        return new ClusterPeerName(text, id);
    }

    public bool Matches(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return CertificateIdentity.Matches(certificate, _id);
    }

    public override string ToString() => Text;
}

using System.Net;

namespace Concentrator.Config;

/// <summary>
/// <c>charon.plugins.eap-radius</c>, in strongswan.conf's names: the RADIUS servers that remote rounds of auth eap-radius
/// (and generic eap) pass EAP to, and accounting. Defaults are strongSwan's. Hosting maps it to the client's options.
/// </summary>
public sealed class EapRadiusConfig
{
    public IReadOnlyList<RadiusServerConfig> Servers { get; init; } = [];
    /// <summary><c>accounting</c>: Start, Interim-Update and Stop (RFC 2866) for SAs authenticated by RADIUS.</summary>
    public bool Accounting { get; init; }
    /// <summary><c>accounting_interval</c>: Interim-Update period; zero: none unless the Access-Accept sets one.</summary>
    public TimeSpan AccountingInterval { get; init; }
    /// <summary><c>accounting_send_class</c>: echo the Access-Accept's Class attributes in accounting requests.</summary>
    public bool AccountingSendClass { get; init; }
    /// <summary><c>class_group</c>: the Access-Accept's Class attributes are the user's groups.</summary>
    public bool ClassGroup { get; init; }
    /// <summary><c>station_id_with_port</c>: Called/Calling-Station-Id carry the port, "address[port]".</summary>
    public bool StationIdWithPort { get; init; } = true;
}

/// <summary>One <c>charon.plugins.eap-radius.servers.&lt;name&gt;</c> section; unset tunables inherit the plugin's.</summary>
public sealed class RadiusServerConfig
{
    public required string Name { get; init; }
    public required IPAddress Address { get; init; }
    /// <summary>The shared secret; the configuration file holding it is checked like one holding IKE secrets.</summary>
    public required byte[] Secret { get; init; }
    public int AuthPort { get; init; } = 1812;
    public int AcctPort { get; init; } = 1813;
    public string NasIdentifier { get; init; } = "strongSwan";
    public int RetransmitTries { get; init; } = 4;
    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromSeconds(2);
    public double RetransmitBase { get; init; } = 1.4;
    public int Preference { get; init; }
}

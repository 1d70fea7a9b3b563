using System.Net;

namespace Concentrator.Radius;

/// <summary>One RADIUS server (strongswan.conf <c>charon.plugins.eap-radius.servers.&lt;name&gt;</c>).</summary>
public sealed record RadiusServerOptions
{
    /// <summary>The section name: a metrics label and the name in logs.</summary>
    public required string Name { get; init; }
    public required IPAddress Address { get; init; }
    public int AuthPort { get; init; } = 1812;
    /// <summary>0: the server takes no accounting.</summary>
    public int AcctPort { get; init; } = 1813;
    public required byte[] Secret { get; init; }
    public string NasIdentifier { get; init; } = RadiusClientOptions.DefaultNasIdentifier;
    /// <summary>Transmissions of one request before the server counts as not answering (strongSwan's retransmit_tries).</summary>
    public int RetransmitTries { get; init; } = 4;
    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromSeconds(2);
    public double RetransmitBase { get; init; } = 1.4;
    /// <summary>Higher is tried first; equal preferences keep the configuration's order.</summary>
    public int Preference { get; init; }

    /// <summary>The wait after transmission <paramref name="attempt"/> (0-based): timeout · base^attempt.</summary>
    public TimeSpan WaitAfter(int attempt) => TimeSpan.FromSeconds(RetransmitTimeout.TotalSeconds * Math.Pow(RetransmitBase, attempt));
}

/// <summary>What Hosting maps <c>charon.plugins.eap-radius</c> into.</summary>
public sealed record RadiusClientOptions
{
    public const string DefaultNasIdentifier = "strongSwan";

    public IReadOnlyList<RadiusServerOptions> Servers { get; init; } = [];
    /// <summary><c>accounting</c>: send Start, Interim-Update and Stop for IKE SAs authenticated by RADIUS.</summary>
    public bool Accounting { get; init; }
    /// <summary><c>accounting_interval</c>: Interim-Update period; zero: none (an Acct-Interim-Interval in the
    /// Access-Accept then sets it per user).</summary>
    public TimeSpan AccountingInterval { get; init; }
    /// <summary><c>accounting_send_class</c>: echo the Access-Accept's Class attributes in accounting.</summary>
    public bool AccountingSendClass { get; init; }
    /// <summary><c>class_group</c>: the Access-Accept's Class attributes are the user's groups.</summary>
    public bool ClassGroup { get; init; }
    /// <summary><c>station_id_with_port</c>: Called/Calling-Station-Id as "address[port]" rather than the address.</summary>
    public bool StationIdWithPort { get; init; } = true;
    /// <summary>Accounting requests waiting for an answer beyond which new ones are dropped and counted.</summary>
    public int AccountingBacklog { get; init; } = 10_000;
}

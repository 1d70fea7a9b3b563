using System.Net;
using System.Text;

namespace Concentrator.Config;

/// <summary>
/// <c>charon.plugins</c>: eap-radius and ipsec-mb are plugins of ours; any other name is a load error naming it.
/// </summary>
internal static partial class ConfigLoader
{
    private static readonly string[] PluginKeys = ["eap-radius", "ipsec-mb"];
    private static readonly string[] IpsecMbKeys = ["load"];

    /// <summary>
    /// <c>charon.plugins.ipsec-mb.load</c>: yes (default) lets ESP AES-GCM use intel-ipsec-mb when it is usable, no keeps
    /// it on OpenSSL. strongSwan's per-plugin switch, yes/no only (its priority numbers and '!' mean nothing here).
    /// </summary>
    private static bool ReadIpsecMbLoad(YamlSection charon)
    {
        if (!charon.Keys.Contains("plugins")) return true;
        var plugins = charon.Section("plugins", PluginKeys);
        if (!plugins.Keys.Contains("ipsec-mb")) return true;
        return plugins.Section("ipsec-mb", IpsecMbKeys).Bool("load") ?? true;
    }
    private static readonly string[] EapRadiusKeys =
    [
        "servers", "accounting", "accounting_interval", "accounting_send_class", "class_group", "station_id_with_port",
        "nas_identifier", "retransmit_tries", "retransmit_timeout", "retransmit_base",
    ];
    private static readonly string[] RadiusServerKeys =
    [
        "address", "secret", "auth_port", "port", "acct_port", "nas_identifier", "retransmit_tries", "retransmit_timeout",
        "retransmit_base", "preference",
    ];

    private static EapRadiusConfig? ReadPlugins(YamlSection charon)
    {
        if (!charon.Keys.Contains("plugins")) return null;
        var plugins = charon.Section("plugins", PluginKeys);
        if (!plugins.Keys.Contains("eap-radius")) return null;
        var m = plugins.Section("eap-radius", EapRadiusKeys);
        var d = new RadiusServerConfig { Name = "", Address = IPAddress.None, Secret = [] };
        string nasIdentifier = NasIdentifier(m) ?? d.NasIdentifier;
        int tries = m.Int("retransmit_tries", 1, 20) ?? d.RetransmitTries;
        var timeout = RadiusSeconds(m, "retransmit_timeout") ?? d.RetransmitTimeout;
        double backoff = m.Number("retransmit_base", 1.0, 10.0) ?? d.RetransmitBase;
        var servers = new List<RadiusServerConfig>();
        foreach (var (name, s) in m.Sections("servers", RadiusServerKeys))
        {
            var address = s.Scalar("address");
            if (address is null || !IPAddress.TryParse(address, out var ip)) throw s.Fail("address", $"needs the server's IP address, found '{address}'");
            var secret = s.Scalar("secret");
            if (string.IsNullOrEmpty(secret)) throw s.Fail("secret", "the server's shared secret is required");
            if (s.Keys.Contains("port") && s.Keys.Contains("auth_port")) throw s.Fail("port", "give auth_port or port (its older name), not both");
            servers.Add(new RadiusServerConfig
            {
                Name = name,
                Address = ip,
                Secret = Encoding.UTF8.GetBytes(secret),
                AuthPort = s.Int("auth_port", 1, 65535) ?? s.Int("port", 1, 65535) ?? d.AuthPort,
                AcctPort = s.Int("acct_port", 0, 65535) ?? d.AcctPort,
                NasIdentifier = NasIdentifier(s) ?? nasIdentifier,
                RetransmitTries = s.Int("retransmit_tries", 1, 20) ?? tries,
                RetransmitTimeout = RadiusSeconds(s, "retransmit_timeout") ?? timeout,
                RetransmitBase = s.Number("retransmit_base", 1.0, 10.0) ?? backoff,
                Preference = s.Int("preference", int.MinValue, int.MaxValue) ?? d.Preference,
            });
        }
        if (servers.Count == 0) throw m.Fail("servers", "needs at least one server (address, secret)");
        var interval = m.Keys.Contains("accounting_interval") ? RadiusSeconds(m, "accounting_interval", allowZero: true) : null;
        return new EapRadiusConfig
        {
            Servers = servers,
            Accounting = m.Bool("accounting") ?? false,
            AccountingInterval = interval ?? TimeSpan.Zero,
            AccountingSendClass = m.Bool("accounting_send_class") ?? false,
            ClassGroup = m.Bool("class_group") ?? false,
            StationIdWithPort = m.Bool("station_id_with_port") ?? true,
        };
    }

    /// <summary>An attribute holds 253 octets (RFC 2865 §5).</summary>
    private static string? NasIdentifier(YamlSection m)
    {
        var text = m.Scalar("nas_identifier");
        if (text is not null && (text.Length == 0 || Encoding.UTF8.GetByteCount(text) > 253)) throw m.Fail("nas_identifier", "must be 1 to 253 octets");
        return text;
    }

    /// <summary>strongSwan gives these as (fractional) seconds; a duration (2s, 10m) is accepted too.</summary>
    private static TimeSpan? RadiusSeconds(YamlSection m, string key, bool allowZero = false)
    {
        if (m.Scalar(key) is not { } text) return null;
        var value = ConfigValues.TryNumber(text, out var seconds) is null ? TimeSpan.FromSeconds(Math.Clamp(seconds, 0, 86400)) : m.Duration(key)!.Value;
        if ((value == TimeSpan.Zero && allowZero) || (value >= TimeSpan.FromMilliseconds(100) && value <= TimeSpan.FromDays(1))) return value;
        throw m.Fail(key, $"{value.TotalSeconds:0.###}s is out of range 0.1s..1d");
    }

    /// <summary>A connection passing EAP to RADIUS needs a server to pass it to.</summary>
    private static void CheckEapRadius(YamlSection root, ConcentratorConfig config)
    {
        if (config.Charon.EapRadius is not null) return;
        foreach (var c in config.Connections.Values)
        {
            if (c.Remote.Auth == Ike.Connections.AuthConfig.EapRadius)
            {
                throw root.Fail("connections", $"connection {c.Name} authenticates with eap-radius but charon.plugins.eap-radius has no servers");
            }
        }
    }
}

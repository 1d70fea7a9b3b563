using Concentrator.Ike.Connections;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Tasks.V1;

namespace Concentrator.Config;

/// <summary><c>version: 1</c> connections (IKEv1): the keys that do not apply to IKEv1, or are not built for it yet, are load errors.</summary>
internal static partial class ConfigLoader
{
    /// <summary>
    /// Keys of a connection that are an error with <c>version: 1</c>, and why. IKEv2-only in swanctl (mobike, childless,
    /// ppk); not built for IKEv1 here (IKEv1 fragmentation, our phase 1 has no reauthentication timer, XFRM interface
    /// IDs, the unique policies' INITIAL-CONTACT and duplicate checks). The IKEv1 helpers lift their own: Mode Config
    /// (pools, vips), DPD (dpd_delay, dpd_timeout), certificates (send_cert, send_certreq).
    /// </summary>
    private static readonly (string Key, string Why)[] V1RefusedKeys =
    [
        ("mobike", "MOBIKE (RFC 4555) is IKEv2 only"),
        ("childless", "childless IKE SAs (RFC 6023) are IKEv2 only"),
        ("fragmentation", "IKEv1 fragmentation is not implemented"),
        ("reauth_time", "IKEv1 phase 1 reauthentication is not implemented (rekey_time is the phase 1 lifetime proposed)"),
        ("unique", "the unique policies are not implemented for IKEv1"),
        ("if_id_in", "XFRM interface IDs are not implemented for IKEv1"),
        ("if_id_out", "XFRM interface IDs are not implemented for IKEv1"),
        ("vips", "our Mode Config client (virtual IPs requested from the peer) is not implemented for IKEv1"),
    ];

    private static void CheckV1Connection(YamlSection m)
    {
        var present = m.Keys.ToHashSet(StringComparer.Ordinal);
        foreach (var (key, why) in V1RefusedKeys)
        {
            if (present.Contains(key)) throw m.Fail(key, $"not supported with version 1: {why}");
        }
    }

    /// <summary>
    /// IKEv1 phase 1 proposals: written ones must map onto RFC 2409 transforms entirely (an error names the part that
    /// does not); the default list keeps only what IKEv1 can offer (CBC ciphers, HMAC hashes, MODP/ECP groups).
    /// </summary>
    private static List<IkeProposal> V1Proposals(YamlSection m, List<IkeProposal> proposals)
    {
        bool written = m.Keys.Contains("proposals");
        var result = new List<IkeProposal>();
        foreach (var p in proposals)
        {
            if (written)
            {
                if (V1Phase1Proposals.Unsupported(p) is { } why) throw m.Fail("proposals", $"{p}: {why}");
                result.Add(p);
                continue;
            }
            var narrowed = new IkeProposal(
                p.Encryption.Where(e => V1Phase1Proposals.EncryptionOf(e.Algorithm) is not null).ToList(),
                p.Integrity.Where(i => V1Phase1Proposals.HashOf(i) is not null).ToList(),
                [],
                p.Groups.Where(V1Phase1Proposals.SupportedGroup).ToList());
            if (narrowed.Encryption.Count > 0 && narrowed.Integrity.Count > 0 && narrowed.Groups.Count > 0) result.Add(narrowed);
        }
        if (result.Count == 0) throw m.Fail("proposals", "no proposal IKEv1 can offer (aes128/192/256 or 3des, sha1/256/384/512, modp or ecp256/384)");
        return result;
    }

    /// <summary>Authentication rounds IKEv1 phase 1 runs here: PSK or pubkey both ways (XAUTH is added by its helper).</summary>
    private static void CheckV1Auth(YamlSection m, ConnectionConfig c)
    {
        foreach (var (key, auth) in new[] { ("local", c.Local), ("remote", c.Remote) })
        {
            if (auth.IsEap) throw m.Section(key, key == "local" ? LocalAuthKeys : RemoteAuthKeys).Fail("auth", "EAP is IKEv2 only (IKEv1 has XAUTH)");
            if (auth.Auth != AuthConfig.Psk && auth.Auth != AuthConfig.PubKey) throw m.Section(key, key == "local" ? LocalAuthKeys : RemoteAuthKeys).Fail("auth",
                $"'{auth.Auth}' is not supported with version 1 yet (use psk or pubkey)");
        }
        CheckV1PubKey(m, c); // v1auth
    }
}

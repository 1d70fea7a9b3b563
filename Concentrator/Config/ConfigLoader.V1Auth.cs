using Concentrator.Ike.Connections;
using Concentrator.Ike.Tasks.V1;

namespace Concentrator.Config;

/// <summary><c>version: 1</c> authentication: certificates (pubkey) and swanctl's <c>aggressive</c>.</summary>
internal static partial class ConfigLoader
{
    /// <summary>swanctl's aggressive (default no): IKEv1 only; on a version 2 connection it is an error, never ignored.</summary>
    private static bool ReadAggressive(YamlSection m, int ikeVersion)
    {
        if (m.Bool("aggressive") is not { } aggressive) return false;
        if (ikeVersion != 1) throw m.Fail("aggressive", "aggressive mode is IKEv1 only (set version: 1, or remove the key)");
        return aggressive;
    }

    /// <summary>
    /// IKEv1 negotiates one authentication method for both ends (RFC 2409 §5): local and remote are both psk or both
    /// pubkey, and a pubkey round's key must be RSA or ECDSA on P-256/P-384/P-521 (methods 3, 9, 10, 11).
    /// </summary>
    private static void CheckV1PubKey(YamlSection m, ConnectionConfig c)
    {
        if (c.Local.IsPubKey != c.Remote.IsPubKey)
        {
            throw m.Section("remote", RemoteAuthKeys).Fail("auth",
                $"IKEv1 authenticates both ends with one method: local is '{c.Local.Auth}', remote '{c.Remote.Auth}'");
        }
        if (c.Local.IsPubKey && V1CertificateAuth.MethodFor(c.Local) is null)
        {
            throw m.Section("local", LocalAuthKeys).Fail("certs", "the key of local.certs is neither RSA nor ECDSA on P-256, P-384 or P-521 (IKEv1 methods 3, 9, 10, 11)");
        }
    }
}

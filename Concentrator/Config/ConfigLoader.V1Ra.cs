using Concentrator.Ike.Connections;

namespace Concentrator.Config;

/// <summary>
/// IKEv1 remote access in <c>connections:</c>: swanctl's further authentication rounds (<c>local&lt;suffix&gt;</c>,
/// <c>remote&lt;suffix&gt;</c>, read in file order after <c>local</c> and <c>remote</c>) and <c>pull</c>. The one further
/// round implemented is a remote XAUTH round of a <c>version: 1</c> connection (strongSwan's xauth-generic); any other is
/// a load error, never a round that is read and ignored.
/// </summary>
internal static partial class ConfigLoader
{
    private static readonly string[] XauthRoundKeys = ["auth", "xauth_id"];

    /// <summary>A connection key: one of <see cref="ConnectionKeys"/> or a further round, local&lt;suffix&gt; or remote&lt;suffix&gt;.</summary>
    private static bool IsConnectionKey(string key) => ConnectionKeys.Contains(key) || IsFurtherRound(key, "local") || IsFurtherRound(key, "remote");

    private static bool IsFurtherRound(string key, string side) =>
        key.Length > side.Length && key.StartsWith(side, StringComparison.Ordinal) && key[side.Length] != '_';

    /// <summary>The remote XAUTH round (null: none); a further local round, a second further remote round or one on an IKEv2 connection is an error.</summary>
    private static AuthConfig? ReadXauthRound(YamlSection m, AuthConfig remote)
    {
        int version = m.Int("version", 0, 255) ?? 2;
        AuthConfig? xauth = null;
        foreach (var key in m.Keys.ToList())
        {
            if (IsFurtherRound(key, "local"))
            {
                throw m.Fail(key, "a further local round (our XAUTH client, IKEv2 multiple authentication) is not supported yet");
            }
            if (!IsFurtherRound(key, "remote")) continue;
            if (version != 1)
            {
                throw m.Fail(key, "a further remote round is XAUTH, only with version 1 (IKEv2 multiple authentication, RFC 4739, is not supported yet)");
            }
            if (xauth is not null) throw m.Fail(key, "at most one further remote round (the XAUTH round)");
            var round = m.Section(key, XauthRoundKeys);
            var auth = round.Scalar("auth")?.Trim().ToLowerInvariant();
            if (auth is not (AuthConfig.Xauth or "xauth-generic"))
            {
                throw round.Fail("auth", auth is null
                    ? "missing (a further remote round is the XAUTH round: auth = xauth)"
                    : $"'{auth}' is not supported in a further remote round (use xauth: the password checked against the xauth and eap secrets)");
            }
            if (remote.Auth is not ("psk" or "pubkey"))
            {
                throw round.Fail("auth", $"XAUTH follows a psk or pubkey first round, not '{remote.Auth}'");
            }
            var id = round.Scalar("xauth_id")?.Trim();
            if (id is { Length: 0 }) throw round.Fail("xauth_id", "identity is empty (leave it out to accept any user)");
            xauth = new AuthConfig { Auth = AuthConfig.Xauth, XauthId = id is null ? null : ReadIdentity(round, "xauth_id", id) };
        }
        return xauth;
    }

    /// <summary>swanctl pull (default yes): IKEv1 Mode Config only.</summary>
    private static bool ReadPull(YamlSection m)
    {
        var pull = m.Bool("pull");
        if (pull is not null && (m.Int("version", 0, 255) ?? 2) != 1) throw m.Fail("pull", "only with version 1 (IKEv1 Mode Config pull or push)");
        return pull ?? true;
    }
}

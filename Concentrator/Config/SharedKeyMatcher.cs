using Concentrator.Ike.Connections;

namespace Concentrator.Config;

/// <summary>
/// strongSwan's shared-key selection (mem_cred shared_filter, credential_manager get_shared): each secret's owners are
/// patterns (<see cref="Identity.Match"/>) scored against the peer's identity and against ours; a secret whose owners
/// match neither is skipped; a secret without ids has the single owner %any. The best match of the peer's identity
/// wins, ours only breaks a tie, and on a full tie the secret loaded last wins (strongSwan's credential set enumerates
/// the newest first). The identities queried are concrete (received or our own): a received "%any" is a name, not a
/// wildcard, and matches only a %any owner.
/// </summary>
/// <remarks>
/// The responder verifies a peer's AUTH with this one key. strongSwan's psk_authenticator instead tries every key whose
/// owners match either identity, so there a key naming only the gateway authenticates any peer identity, even one
/// that has a secret of its own; here a peer is authenticated with the key its identity selects.
/// </remarks>
internal static class SharedKeyMatcher
{
    public static SecretConfig? FindBest(IReadOnlyList<SecretConfig> secrets, Identity local, Identity remote)
    {
        SecretConfig? best = null;
        IdMatch bestLocal = IdMatch.None, bestRemote = IdMatch.None;
        for (int n = secrets.Count - 1; n >= 0; n--)
        {
            var s = secrets[n];
            var me = OwnerMatch(s.Ids, local);
            var other = OwnerMatch(s.Ids, remote);
            if (me == IdMatch.None && other == IdMatch.None)
            {
                continue;
            }
            if (other > bestRemote || (other == bestRemote && me > bestLocal))
            {
                best = s;
                bestLocal = me;
                bestRemote = other;
            }
        }
        return best;
    }

    /// <summary>The best match of any owner against the queried identity (strongSwan's has_owner).</summary>
    private static IdMatch OwnerMatch(IReadOnlyList<Identity> owners, Identity id)
    {
        if (owners.Count == 0)
        {
            return Identity.AnyIdentity.Match(id);
        }
        var best = IdMatch.None;
        foreach (var owner in owners)
        {
            var match = owner.Match(id);
            if (match > best) best = match;
        }
        return best;
    }
}

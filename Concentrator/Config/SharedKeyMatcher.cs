using System.Net;

namespace Concentrator.Config;

/// <summary>
/// strongSwan's shared-key selection (mem_cred shared_filter + credential_manager get_shared):
/// each secret scores how well its owner ids match our id and the peer's id (perfect &gt; wildcard
/// &gt; %any); a secret without ids matches both as "any"; a secret matching neither id is skipped;
/// the highest sum wins, the earlier secret on a tie.
/// </summary>
internal static class SharedKeyMatcher
{
    private const int MatchNone = 0;
    private const int MatchAny = 1;
    private const int MatchMaxWildcards = 2;
    private const int MatchPerfect = 20;

    public static SecretConfig? FindBest(IReadOnlyList<SecretConfig> secrets, string localId, string remoteId)
    {
        SecretConfig? best = null;
        var bestScore = MatchNone;
        foreach (var s in secrets)
        {
            var me = OwnerMatch(s.Ids, localId);
            var other = OwnerMatch(s.Ids, remoteId);
            if (me == MatchNone && other == MatchNone)
            {
                continue;
            }
            var score = me + other;
            if (score > bestScore)
            {
                best = s;
                bestScore = score;
            }
        }
        return best;
    }

    /// <summary>Best match of any owner id against the queried identity.</summary>
    private static int OwnerMatch(IReadOnlyList<string> owners, string id)
    {
        if (owners.Count == 0)
        {
            return MatchAny;
        }
        var best = MatchNone;
        foreach (var owner in owners)
        {
            best = Math.Max(best, Match(owner, id));
        }
        return best;
    }

    /// <summary>How well owner id <paramref name="owner"/> matches identity <paramref name="id"/>.</summary>
    private static int Match(string owner, string id)
    {
        owner = owner.Trim();
        id = id.Trim();
        if (IsAny(id) || IsAny(owner))
        {
            return MatchAny;
        }
        if (IPAddress.TryParse(owner, out var a) && IPAddress.TryParse(id, out var b))
        {
            return a.Equals(b) ? MatchPerfect : MatchNone;
        }
        if (string.Equals(owner, id, StringComparison.OrdinalIgnoreCase))
        {
            return MatchPerfect;
        }
        var wildcards = owner.Count(c => c == '*');
        if (wildcards > 0 && Glob(owner, id))
        {
            return Math.Max(MatchMaxWildcards, MatchPerfect - wildcards);
        }
        return MatchNone;
    }

    private static bool IsAny(string id) => id.Length == 0 || id == "%any" || id == "%any6";

    /// <summary>'*' matches any run of characters, case-insensitive (strongSwan's FQDN/email wildcards).</summary>
    private static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(text[t]))
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }
}

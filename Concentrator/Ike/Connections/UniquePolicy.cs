namespace Concentrator.Ike.Connections;

/// <summary>
/// swanctl's <c>unique</c>: what a new IKE SA of a user does to the user's existing ones. The duplicates of an SA are the
/// established IKE SAs with the same local identity and the same user (the EAP identity when the peer logged in by EAP,
/// else its IKE identity), as strongSwan's ike_sa_manager check_uniqueness finds them; keep and replace consider only
/// duplicates of the same connection, INITIAL_CONTACT any.
/// </summary>
public enum UniquePolicy
{
    /// <summary>Duplicates are allowed; a new IKE SA whose peer sent INITIAL_CONTACT replaces them (RFC 7296 §2.4).</summary>
    No = 0,
    /// <summary>Duplicates are allowed, INITIAL_CONTACT included.</summary>
    Never,
    /// <summary>A new login from another address is refused (AUTHENTICATION_FAILED); the existing SA is kept. From the same
    /// address it is taken for a reauthentication and allowed.</summary>
    Keep,
    /// <summary>A new login deletes the existing IKE SAs (with a Delete to their peer); from the same address (a suspected
    /// reauthentication) after <see cref="UniqueRules.ReauthDelay"/>.</summary>
    Replace,
}

/// <summary>The parts of strongSwan's check_uniqueness both the protocol and its host use.</summary>
public static class UniqueRules
{
    /// <summary>strongSwan's delay before deleting a duplicate whose peer address is the new SA's (a reauthentication
    /// would have deleted it itself by then).</summary>
    public static readonly TimeSpan ReauthDelay = TimeSpan.FromSeconds(10);

    /// <summary>Whether IKE_AUTH must ask its host before answering: only keep and replace look for duplicates then.</summary>
    public static bool ChecksAtAuth(UniquePolicy policy) => policy is UniquePolicy.Keep or UniquePolicy.Replace;

    /// <summary>swanctl's spelling of <paramref name="policy"/> (also the metric label value).</summary>
    public static string Name(UniquePolicy policy) => policy switch
    {
        UniquePolicy.Never => "never",
        UniquePolicy.Keep => "keep",
        UniquePolicy.Replace => "replace",
        _ => "no",
    };
}

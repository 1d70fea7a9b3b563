namespace Concentrator.Ike.Connections;

/// <summary>
/// swanctl childless (strongSwan 5.9.2's ike_cfg childless_t): childless IKE SAs (RFC 6023), the first Child SA
/// created by CREATE_CHILD_SA instead of inside IKE_AUTH. CHILDLESS_IKEV2_SUPPORTED goes out in IKE_SA_INIT unless
/// <see cref="Never"/>.
/// </summary>
public enum ChildlessPolicy
{
    /// <summary>A responder accepts a childless IKE_AUTH; an initiator puts its first child in IKE_AUTH.</summary>
    Allow = 0,
    /// <summary>As <see cref="Allow"/>, and an initiator goes childless when the responder announced support.</summary>
    Prefer,
    /// <summary>Childless in both roles only: an initiator fails against a responder that did not announce support, a
    /// responder refuses an IKE_AUTH that carries a child.</summary>
    Force,
    /// <summary>Not announced; a responder refuses a childless IKE_AUTH (an initiator still puts its child in IKE_AUTH).</summary>
    Never,
}

/// <summary>The swanctl names of <see cref="ChildlessPolicy"/>.</summary>
public static class ChildlessPolicies
{
    public static readonly string[] Names = ["allow", "prefer", "force", "never"];

    public static string Name(ChildlessPolicy policy) => Names[(int)policy];

    public static ChildlessPolicy Parse(string name) => (ChildlessPolicy)Array.IndexOf(Names, name);
}

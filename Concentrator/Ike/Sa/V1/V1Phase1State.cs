namespace Concentrator.Ike.Sa.V1;

/// <summary>
/// Where a phase 1 SA stands, by what it waits for (both roles, main and aggressive mode). Moves are checked by
/// <see cref="V1Phase1States.CanMove"/>; an illegal one is a bug and throws.
/// </summary>
public enum V1Phase1State
{
    /// <summary>Nothing sent or received yet.</summary>
    Created = 0,
    /// <summary>Main mode initiator: message 1 (SA) sent, waits for message 2.</summary>
    AwaitingSa,
    /// <summary>Main mode: the SA is agreed; the initiator sent message 3 (KE, Ni, NAT-D), the responder message 2; both wait for the KE.</summary>
    AwaitingKe,
    /// <summary>The keys are derived; the peer's ID and HASH (or SIG) are next (main mode 5/6, aggressive mode 2/3).</summary>
    AwaitingAuth,
    /// <summary>The peer is authenticated; a further round (XAUTH, Mode Config) runs before the SA is established.</summary>
    Authenticating,
    /// <summary>Phase 1 is complete: quick mode, informational and transaction exchanges may run.</summary>
    Established,
    /// <summary>We sent the ISAKMP Delete; the SA closes when the host drains it.</summary>
    Deleting,
    /// <summary>Failed or deleted; the host stops.</summary>
    Closed,
}

public static class V1Phase1States
{
    /// <summary>The legal moves. Closed is reachable from every state; nothing leaves it.</summary>
    public static bool CanMove(V1Phase1State from, V1Phase1State to) => to == V1Phase1State.Closed ? from != V1Phase1State.Closed : (from, to) switch
    {
        (V1Phase1State.Created, V1Phase1State.AwaitingSa) => true,
        (V1Phase1State.Created, V1Phase1State.AwaitingKe) => true,
        // Aggressive mode: the first message carries SA, KE and nonce.
        (V1Phase1State.Created, V1Phase1State.AwaitingAuth) => true,
        (V1Phase1State.AwaitingSa, V1Phase1State.AwaitingKe) => true,
        (V1Phase1State.AwaitingKe, V1Phase1State.AwaitingAuth) => true,
        (V1Phase1State.AwaitingAuth, V1Phase1State.Authenticating) => true,
        (V1Phase1State.AwaitingAuth, V1Phase1State.Established) => true,
        (V1Phase1State.Authenticating, V1Phase1State.Established) => true,
        (V1Phase1State.Established, V1Phase1State.Deleting) => true,
        _ => false,
    };
}

namespace Concentrator.Ipsec;

/// <summary>Life of an IKE SA. Transitions are checked by <see cref="IkeSaStateMachine"/>.</summary>
public enum IkeSaState
{
    /// <summary>Object exists, nothing sent or received.</summary>
    Created = 0,
    /// <summary>IKE_SA_INIT done or in flight, IKE_AUTH pending (half-open).</summary>
    Connecting = 1,
    /// <summary>Authenticated; Child SAs may exist.</summary>
    Established = 2,
    /// <summary>A Delete for the IKE SA is in flight.</summary>
    Deleting = 3,
    /// <summary>Gone: keys zeroed, no further messages processed.</summary>
    Destroyed = 4,
}

/// <summary>The allowed IKE SA transitions as a table; anything else is a programming error.</summary>
public static class IkeSaStateMachine
{
    private static readonly bool[,] Allowed = Build();

    private static bool[,] Build()
    {
        var t = new bool[5, 5];
        void Allow(IkeSaState from, IkeSaState to) => t[(int)from, (int)to] = true;
        Allow(IkeSaState.Created, IkeSaState.Connecting);
        // A rekeyed successor (RFC 7296 §2.18) is born authenticated: its keys come from the old SA's SK_d.
        Allow(IkeSaState.Created, IkeSaState.Established);
        Allow(IkeSaState.Created, IkeSaState.Destroyed);
        Allow(IkeSaState.Connecting, IkeSaState.Connecting);
        Allow(IkeSaState.Connecting, IkeSaState.Established);
        Allow(IkeSaState.Connecting, IkeSaState.Deleting);
        Allow(IkeSaState.Connecting, IkeSaState.Destroyed);
        Allow(IkeSaState.Established, IkeSaState.Deleting);
        Allow(IkeSaState.Established, IkeSaState.Destroyed);
        Allow(IkeSaState.Deleting, IkeSaState.Destroyed);
        return t;
    }

    public static bool CanMove(IkeSaState from, IkeSaState to) => Allowed[(int)from, (int)to];

    public static IkeSaState Move(IkeSaState from, IkeSaState to) =>
        CanMove(from, to) ? to : throw new InvalidOperationException($"IKE SA state {from} -> {to} is not allowed");
}

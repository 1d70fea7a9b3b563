namespace Concentrator.Actors;

/// <summary>Life of a Child SA as seen by its actor.</summary>
public enum ChildSaState
{
    /// <summary>Keys derived, not yet in the data plane.</summary>
    Created = 0,
    /// <summary>Both directions installed in the data plane.</summary>
    Installed = 1,
    /// <summary>Delete sent or received; data plane entry removed.</summary>
    Deleted = 2,
}

public static class ChildSaStateMachine
{
    public static bool CanMove(ChildSaState from, ChildSaState to) => (from, to) switch
    {
        (ChildSaState.Created, ChildSaState.Installed) => true,
        (ChildSaState.Created, ChildSaState.Deleted) => true,
        (ChildSaState.Installed, ChildSaState.Deleted) => true,
        _ => false,
    };

    public static ChildSaState Move(ChildSaState from, ChildSaState to) =>
        CanMove(from, to) ? to : throw new InvalidOperationException($"Child SA state {from} -> {to} is not allowed");
}

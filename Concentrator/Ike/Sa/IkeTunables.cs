namespace Concentrator.Ike.Sa;

/// <summary>
/// Operational knobs of the IKE state machine (not protocol facts). Defaults follow strongSwan's
/// charon.retransmit_* settings: timeout 4 s, base 1.8, 5 tries (about 165 s in all).
/// </summary>
public sealed record IkeTunables
{
    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromSeconds(4);
    public double RetransmitBase { get; init; } = 1.8;
    public int RetransmitTries { get; init; } = 5;

    /// <summary>Nonce length we send; RFC 7296 §2.10 wants at least half the PRF key size, 32 covers SHA-512.</summary>
    public int NonceLength { get; init; } = 32;

    /// <summary>Retransmission delay for attempt <paramref name="attempt"/> (0 = first send).</summary>
    public TimeSpan RetransmitDelay(int attempt) =>
        TimeSpan.FromTicks((long)(RetransmitTimeout.Ticks * Math.Pow(RetransmitBase, attempt)));

    public static IkeTunables Default { get; } = new();
}

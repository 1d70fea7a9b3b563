using System.Buffers.Binary;
using System.Security.Cryptography;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>Where our side of RFC 3706 DPD stands on one phase 1 SA.</summary>
public enum V1DpdPhase
{
    /// <summary>The peer was heard within dpd_delay, or DPD is off.</summary>
    Quiet = 0,
    /// <summary>Silent for dpd_delay: R-U-THERE sent, repeated every dpd_delay until something arrives.</summary>
    Probing,
    /// <summary>Silent past the bound: the SA closes and dpd_action applies. Final.</summary>
    Dead,
}

/// <summary>What a DPD timer tick asks of the host.</summary>
public enum V1DpdStep
{
    None = 0,
    /// <summary>Send R-U-THERE with <see cref="V1DpdState.OutstandingSequence"/>.</summary>
    Probe,
    /// <summary>Close the SA as a dead peer (counted as IKEv2's DPD close: Timeout), then dpd_action.</summary>
    Dead,
}

/// <summary>
/// Dead peer detection for IKEv1 (RFC 3706), charon's isakmp_dpd with its task manager's sequence rules and its
/// dpd_timeout job. Pure: ticks and arrivals carry the time (monotonic milliseconds), so every decision is tested without
/// an actor.
/// <list type="bullet">
/// <item>Only with a peer that sent the DPD vendor ID (§5.1, <see cref="V1VendorIds.Dpd"/>); without it charon disables DPD too.</item>
/// <item>Our sequence starts at a random number below 2^31 (§7: random start; the room above delays the wrap) and
/// moves only when an R-U-THERE-ACK with it arrives; an unanswered probe is repeated with the same number, as charon
/// does, so a late ACK still matches.</item>
/// <item>A peer's R-U-THERE is always answered with its own number; only the first or the expected next number moves
/// the receive sequence (a replay is answered, and changes nothing).</item>
/// <item>A probe goes out after dpd_delay without anything from the peer (IKE, or ESP on its Child SAs), unless an
/// exchange is in flight; then one every dpd_delay; the peer is dead when nothing arrived for
/// dpd_timeout - dpd_delay after the first probe (charon's dpd_timeout_job; with dpd_timeout 0, the retransmission
/// budget stands in for it), but never sooner than one dpd_delay after that probe.</item>
/// </list>
/// </summary>
public sealed class V1DpdState
{
    private uint _receiveExpected;
    private long _probingSince;
    private long _lastProbe;

    public V1DpdState(uint initialSequence) => OutstandingSequence = initialSequence;

    /// <summary>A state whose first R-U-THERE number is random in 1..2^31-1.</summary>
    public static V1DpdState Create()
    {
        Span<byte> bytes = stackalloc byte[4];
        uint sequence;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            sequence = BinaryPrimitives.ReadUInt32BigEndian(bytes) & 0x7FFFFFFF;
        } while (sequence == 0);
        return new V1DpdState(sequence);
    }

    /// <summary>The peer sent the DPD vendor ID in phase 1 (<see cref="V1VendorIds.Dpd"/>).</summary>
    public bool PeerSupports { get; set; }

    public V1DpdPhase Phase { get; private set; }

    /// <summary>The number our next (or repeated) R-U-THERE carries and the ACK must match.</summary>
    public uint OutstandingSequence { get; private set; }

    /// <summary>Whether an R-U-THERE with <see cref="OutstandingSequence"/> went out and no ACK matched it yet.</summary>
    public bool Outstanding { get; private set; }

    /// <summary>A peer's R-U-THERE; true when its number was the first or the expected one (it then moved the sequence).</summary>
    public bool OnRuThere(uint sequence)
    {
        if (_receiveExpected != 0 && sequence != _receiveExpected) return false;
        _receiveExpected = sequence + 1 == 0 ? 1 : sequence + 1;
        return true;
    }

    /// <summary>A peer's R-U-THERE-ACK; true when it matched our outstanding probe, which it then ends.</summary>
    public bool OnAck(uint sequence)
    {
        if (!Outstanding || sequence != OutstandingSequence || Phase == V1DpdPhase.Dead) return false;
        Outstanding = false;
        OutstandingSequence = OutstandingSequence + 1 == 0 ? 1 : OutstandingSequence + 1;
        if (Phase == V1DpdPhase.Probing) Phase = V1DpdPhase.Quiet;
        return true;
    }

    /// <summary>
    /// The DPD timer (the host ticks it at dpd_delay / 2, as IKEv2's). <paramref name="lastInbound"/>: the latest of the
    /// last verified IKE message and the last ESP on any of the SA's Child SAs, in the same clock as <paramref name="now"/>.
    /// <paramref name="deadAfter"/>: <see cref="DeadAfter"/>.
    /// </summary>
    public V1DpdStep Tick(long now, long lastInbound, bool exchangeInFlight, TimeSpan delay, TimeSpan deadAfter)
    {
        if (Phase == V1DpdPhase.Dead || !PeerSupports || delay <= TimeSpan.Zero) return V1DpdStep.None;
        long delayMs = (long)delay.TotalMilliseconds;
        if (now - lastInbound < delayMs || (Phase == V1DpdPhase.Quiet && exchangeInFlight))
        {
            Phase = V1DpdPhase.Quiet;
            return V1DpdStep.None;
        }

        if (Phase == V1DpdPhase.Quiet)
        {
            Phase = V1DpdPhase.Probing;
            _probingSince = _lastProbe = now;
            Outstanding = true;
            return V1DpdStep.Probe;
        }

        long waitMs = Math.Max((long)(deadAfter - delay).TotalMilliseconds, delayMs);
        if (now - _probingSince >= waitMs)
        {
            Phase = V1DpdPhase.Dead;
            return V1DpdStep.Dead;
        }
        if (now - _lastProbe < delayMs) return V1DpdStep.None;
        _lastProbe = now;
        Outstanding = true;
        return V1DpdStep.Probe;
    }

    /// <summary>
    /// The silence after which the peer is dead: swanctl's dpd_timeout (IKEv1), else, when it is 0, the budget of a
    /// retransmitted IKE message (charon's queue_dpd).
    /// </summary>
    public static TimeSpan DeadAfter(TimeSpan dpdTimeout, TimeSpan retransmitBudget) => dpdTimeout > TimeSpan.Zero ? dpdTimeout : retransmitBudget;

    /// <summary>An R-U-THERE or R-U-THERE-ACK of the SA with these cookies (RFC 3706 §5.3: ISAKMP SPI, 32-bit number).</summary>
    public static V1NotificationPayload Notify(V1NotifyType type, ulong initiatorCookie, ulong responderCookie, uint sequence)
    {
        if (type is not (V1NotifyType.DpdRUThere or V1NotifyType.DpdRUThereAck)) throw new ArgumentOutOfRangeException(nameof(type));
        var data = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(data, sequence);
        return new V1NotificationPayload(type, V1ProtocolId.Isakmp, V1Informational.IsakmpSpi(initiatorCookie, responderCookie), data);
    }
}

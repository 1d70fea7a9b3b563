using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa.V1;

/// <summary>What the informational exchange and DPD tell the host to log or report (v1info's effects).</summary>
public enum V1InfoEvent
{
    Dropped = 0,
    IsakmpDeleted,
    ChildDeleted,
    DeleteIgnored,
    ErrorNotify,
    DpdProbe,
    DpdOutOfSequence,
    DpdDead,
    DpdUnsupported,
    DeleteSent,
}

/// <summary>An informational or DPD event for the host's log; <paramref name="Detail"/> is never key material.</summary>
public sealed record V1InfoLogged(V1InfoEvent Event, string Detail, uint Number = 0, uint Expected = 0) : IkeEffect;

/// <summary>INITIAL-CONTACT in main mode or an informational right after it (RFC 2407 §4.6.3.3): the host asks the
/// supervisor to replace the peer's older SAs, as IKEv2's INITIAL_CONTACT does.</summary>
public sealed record V1InitialContactSeen : IkeEffect;

// The informational exchange's side of the phase 1 SA (v1info): DPD state, INITIAL-CONTACT, Deletes both ways, and
// the host's view of the installed Child SAs the Deletes name.
public sealed partial class IkeV1Sa
{
    // One bit per error notify kind already logged (RFC 2408's 1..30; bit 0 every other error type): a peer repeating
    // an error is logged once.
    private uint _errorsLogged;
    private bool _dpdUnsupportedLogged;

    /// <summary>RFC 3706 DPD of this SA; <see cref="V1DpdState.PeerSupports"/> follows the peer's vendor ID.</summary>
    public V1DpdState Dpd { get; } = V1DpdState.Create();

    /// <summary>The peer sent INITIAL-CONTACT: the host replaces its older SAs with us when the SA is established.</summary>
    public bool InitialContact { get; private set; }

    /// <summary>Main mode: the peer's message 5 (or aggressive mode's last message) carried INITIAL-CONTACT.</summary>
    public void NoteInitialContact(IEnumerable<V1Payload> payloads)
    {
        foreach (var p in payloads)
        {
            if (p is V1NotificationPayload { NotifyType: V1NotifyType.InitialContact }) InitialContact = true;
        }
    }

    /// <summary>Quick mode's Child SAs of this SA (ESP), by our inbound SPI: what our teardown deletes.</summary>
    internal IEnumerable<(V1ProtocolId, uint)> InstalledChildren() => QuickModeChildren.Keys.Select(spi => (V1ProtocolId.Esp, spi)).ToList();

    /// <summary>A Child SA of quick mode's table by our inbound or outbound SPI (charon's get_child_sa); our inbound SPI.</summary>
    internal uint? FindChild(V1ProtocolId protocol, uint spi, bool inbound)
    {
        if (protocol != V1ProtocolId.Esp) return null;
        if (inbound) return QuickModeChildren.ContainsKey(spi) ? spi : null;
        foreach (var entry in QuickModeChildren.Values)
        {
            if (entry.Child.OutboundSpi == spi) return entry.Child.InboundSpi;
        }
        return null;
    }

    /// <summary>Forgets a Child SA of quick mode's table and has the host remove it (a rekeyed one through its grace).</summary>
    private void RemoveQuickModeChild(uint inboundSpi)
    {
        bool rekeyed = QuickModeChildren.TryGetValue(inboundSpi, out var entry) && entry.Rekeyed;
        ForgetQuickModeChild(inboundSpi);
        Emit(new ChildSaRemoved(inboundSpi, rekeyed));
    }

    /// <summary>An informational of ours: HASH(1) first, encrypted under a fresh M-ID whose IV is forgotten at once (one-way).</summary>
    internal void SendInformational(IReadOnlyList<V1Payload> payloads)
    {
        uint messageId = NewMessageId();
        Send(V1ExchangeType.Informational, messageId, V1Hashes.WithHash1(this, messageId, payloads), encrypt: true, request: false);
        Protector!.EndExchange(messageId);
    }

    internal void InfoDropped(string reason) => Emit(new V1InfoLogged(V1InfoEvent.Dropped, reason));

    internal void InfoDeleteSent(string what) => Emit(new V1InfoLogged(V1InfoEvent.DeleteSent, what));

    /// <summary>Carries out what a verified informational asked (<see cref="V1InformationalTask"/>), in its order.</summary>
    internal void Apply(V1InfoOutcome outcome)
    {
        if (outcome.AckSequence is { } sequence)
        {
            SendInformational([V1DpdState.Notify(V1NotifyType.DpdRUThereAck, CookieI, CookieR, sequence)]);
            if (!outcome.RuThereInSequence) Emit(new V1InfoLogged(V1InfoEvent.DpdOutOfSequence, "R-U-THERE", sequence));
            return;
        }
        if (outcome.AckMatched == false) Emit(new V1InfoLogged(V1InfoEvent.DpdOutOfSequence, "R-U-THERE-ACK", 0, Dpd.OutstandingSequence));
        if (outcome.AckMatched is not null) return;

        foreach (var error in outcome.Errors)
        {
            int bit = (ushort)error is > 0 and < 32 ? (ushort)error : 0;
            if ((_errorsLogged & (1u << bit)) != 0) continue;
            _errorsLogged |= 1u << bit;
            Emit(new V1InfoLogged(V1InfoEvent.ErrorNotify, outcome.CancelQuickMode ? $"{error}: the quick mode it refuses ends" : error.ToString()));
        }
        foreach (uint inbound in outcome.DeletedChildren)
        {
            Emit(new V1InfoLogged(V1InfoEvent.ChildDeleted, $"{inbound:x8}"));
            RemoveQuickModeChild(inbound);
        }
        if (outcome.UnknownSpis + outcome.ForeignIsakmpDeletes > 0)
        {
            // Counted once per message: a Delete naming what this SA does not have is ignored (charon: "not found").
            Context.Metrics.CountDrop(IkeDropReason.UnknownSpi);
            Emit(new V1InfoLogged(V1InfoEvent.DeleteIgnored, "", (uint)outcome.UnknownSpis, (uint)outcome.ForeignIsakmpDeletes));
        }
        if (outcome.InitialContact && !InitialContact)
        {
            InitialContact = true;
            Emit(new V1InitialContactSeen());
        }
        if (outcome.DeleteIsakmp)
        {
            Emit(new V1InfoLogged(V1InfoEvent.IsakmpDeleted, ""));
            Fail(CloseReason.DeletedByPeer);
        }
    }

    /// <summary>
    /// The host's DPD timer (every dpd_delay / 2): <paramref name="lastInbound"/> folds the last ESP of the Child SAs into
    /// <see cref="LastInbound"/> (the same clock). Sends R-U-THERE when due; a dead peer closes the SA with Timeout
    /// (counted as a dead peer, as IKEv2's DPD) and returns true: the host applies dpd_action.
    /// </summary>
    public bool DpdTick(long now, long lastInbound)
    {
        if (State != V1Phase1State.Established || Connection is not { DpdDelay: var delay } conn || delay <= TimeSpan.Zero) return false;
        if (!Dpd.PeerSupports)
        {
            if (!_dpdUnsupportedLogged) Emit(new V1InfoLogged(V1InfoEvent.DpdUnsupported, ""));
            _dpdUnsupportedLogged = true;
            return false;
        }
        var deadAfter = V1DpdState.DeadAfter(conn.DpdTimeout, RetransmitBudget());
        switch (Dpd.Tick(now, lastInbound, _requests.Count > 0, delay, deadAfter))
        {
            case V1DpdStep.Probe:
                SendInformational([V1DpdState.Notify(V1NotifyType.DpdRUThere, CookieI, CookieR, Dpd.OutstandingSequence)]);
                Context.Metrics.CountDpdProbe();
                Emit(new V1InfoLogged(V1InfoEvent.DpdProbe, "", Dpd.OutstandingSequence));
                return false;
            case V1DpdStep.Dead:
                Emit(new V1InfoLogged(V1InfoEvent.DpdDead, "", (uint)((now - lastInbound) / 1000)));
                Fail(CloseReason.Timeout);
                return true;
            default:
                return false;
        }
    }

    /// <summary>What a retransmitted message waits in all before it is given up (charon's queue_dpd without dpd_timeout).</summary>
    private TimeSpan RetransmitBudget()
    {
        var budget = TimeSpan.Zero;
        for (int attempt = 0; attempt <= Context.Tunables.RetransmitTries; attempt++) budget += Context.Tunables.RetransmitDelay(attempt);
        return budget;
    }

    // v1core's hook: a Child SA to go is told to the peer with an IPsec Delete (our inbound SPI), then removed; one quick
    // mode does not know is only removed (charon sends no Delete for a Child SA it does not have).
    partial void OnDeleteChild(uint inboundSpi, ref bool handled)
    {
        if (!QuickModeChildren.ContainsKey(inboundSpi)) return;
        SendInformational(V1Informational.TeardownDeletes(CookieI, CookieR, [(V1ProtocolId.Esp, inboundSpi)])[0]);
        Emit(new V1InfoLogged(V1InfoEvent.DeleteSent, $"Child SA {inboundSpi:x8}"));
        RemoveQuickModeChild(inboundSpi);
        handled = true;
    }
}

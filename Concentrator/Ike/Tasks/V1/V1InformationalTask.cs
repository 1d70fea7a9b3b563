using System.Buffers.Binary;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// A Child SA of the phase 1 SA looked up by protocol and SPI, as strongSwan's get_child_sa: <paramref name="inbound"/>
/// true matches our inbound SPI, false our outbound one. Returns our inbound SPI of the child found, else null.
/// </summary>
public delegate uint? V1ChildLookup(Wire.V1.V1ProtocolId protocol, uint spi, bool inbound);

/// <summary>What the phase 1 SA is to an informational it receives.</summary>
/// <param name="Phase1Established">Main mode ended (strongSwan's IKE_ESTABLISHED): an error notify no longer ends it.</param>
/// <param name="Dpd">The SA's DPD state; null when the host has none yet (before phase 1 ends).</param>
public sealed record V1InfoContext(ulong InitiatorCookie, ulong ResponderCookie, bool Phase1Established, V1DpdState? Dpd,
    V1ChildLookup FindChild);

/// <summary>What one received informational asks of its host, which carries it out in this order: answer DPD, remove
/// children, then the ISAKMP SA, then INITIAL-CONTACT's duplicates; errors end what they belong to.</summary>
public sealed class V1InfoOutcome
{
    /// <summary>A Delete for this ISAKMP SA (both cookies ours): the phase 1 SA ends without a reply.</summary>
    public bool DeleteIsakmp { get; internal set; }

    /// <summary>Our inbound SPIs of the Child SAs the peer deleted, each once.</summary>
    public List<uint> DeletedChildren { get; } = [];

    /// <summary>Deleted SPIs no Child SA of this SA has (ignored, as strongSwan does: "CHILD_SA not found").</summary>
    public int UnknownSpis { get; internal set; }

    /// <summary>ISAKMP Deletes naming another SA's cookies (ignored: "received DELETE for different IKE_SA").</summary>
    public int ForeignIsakmpDeletes { get; internal set; }

    /// <summary>Payloads that only an authenticated informational may carry, in one that is not (ignored).</summary>
    public int IgnoredUnprotected { get; internal set; }

    /// <summary>INITIAL-CONTACT (RFC 2407 §4.6.3.3): the peer has no other SA with us; its older ones are stale.</summary>
    public bool InitialContact { get; internal set; }

    /// <summary>An R-U-THERE to answer with an R-U-THERE-ACK carrying this sequence number (RFC 3706 §5.3).</summary>
    public uint? AckSequence { get; internal set; }

    /// <summary>The R-U-THERE's number was the one expected (or the first): it proves the peer alive.</summary>
    public bool RuThereInSequence { get; internal set; }

    /// <summary>An R-U-THERE-ACK arrived: whether it matched our outstanding probe; null when none arrived.</summary>
    public bool? AckMatched { get; internal set; }

    /// <summary>The error Notifications received (types below 8192), each kind once per message.</summary>
    public List<V1NotifyType> Errors { get; } = [];

    /// <summary>An error before main mode ended: strongSwan fails the phase 1 SA then ("only critical during main mode").</summary>
    public bool FailPhase1 { get; internal set; }

    /// <summary>NO-PROPOSAL-CHOSEN or INVALID-ID-INFORMATION: the quick mode we initiated is refused.</summary>
    public bool CancelQuickMode { get; internal set; }

    /// <summary>
    /// Whether the message counts as the peer's sign of life for DPD: any authenticated informational but a DPD notify
    /// out of sequence (charon moves STAT_INBOUND only for the expected R-U-THERE or the matching ACK: a replay proves
    /// nothing).
    /// </summary>
    public bool ProvesLiveness => AckMatched ?? (AckSequence is null || RuThereInSequence);
}

/// <summary>
/// A received ISAKMP Informational exchange (RFC 2408 §4.8, RFC 2409 §5.7), after strongSwan's informational,
/// isakmp_delete, quick_delete and task manager's DPD handling: DPD notifies first (a message with one is DPD only),
/// then Notifications and Deletes. Only an informational whose HASH was verified (<paramref name="authenticated"/>)
/// deletes, answers DPD or carries INITIAL-CONTACT; one in the clear (before phase 1 keys exist) is read for its error
/// notifies alone, which can end only a main mode in progress, never an established SA. Pure: the host carries out
/// the outcome.
/// </summary>
public static class V1InformationalTask
{
    public static V1InfoOutcome Process(IReadOnlyList<V1Payload> payloads, bool authenticated, V1InfoContext context)
    {
        var outcome = new V1InfoOutcome();
        if (authenticated && context.Dpd is { } dpd && ProcessDpd(payloads, dpd, outcome)) return outcome;
        HashSet<uint>? deleted = null;
        foreach (var payload in payloads)
        {
            switch (payload)
            {
                case V1NotificationPayload notify:
                    Notify(notify, authenticated, context, outcome);
                    break;
                case V1DeletePayload delete when !authenticated:
                    outcome.IgnoredUnprotected++;
                    break;
                case V1DeletePayload { Protocol: V1ProtocolId.Isakmp } delete:
                    foreach (var spi in delete.Spis)
                    {
                        if (spi.Length == V1Constants.IsakmpSpiLength && BinaryPrimitives.ReadUInt64BigEndian(spi) == context.InitiatorCookie &&
                            BinaryPrimitives.ReadUInt64BigEndian(spi.AsSpan(V1Constants.CookieLength)) == context.ResponderCookie)
                        {
                            outcome.DeleteIsakmp = true;
                        }
                        else
                        {
                            outcome.ForeignIsakmpDeletes++;
                        }
                    }
                    break;
                case V1DeletePayload { Protocol: V1ProtocolId.Esp or V1ProtocolId.Ah } delete:
                    foreach (var spi in delete.Spis)
                    {
                        uint value = BinaryPrimitives.ReadUInt32BigEndian(spi);
                        // strongSwan looks for our inbound SPI first, then our outbound one (the peer's inbound, which
                        // is what charon itself sends).
                        uint? child = context.FindChild(delete.Protocol, value, inbound: true) ?? context.FindChild(delete.Protocol, value, inbound: false);
                        if (child is not { } inboundSpi) outcome.UnknownSpis++;
                        else if ((deleted ??= []).Add(inboundSpi)) outcome.DeletedChildren.Add(inboundSpi);
                    }
                    break;
                case V1DeletePayload delete:
                    // IPComp CPIs are not Child SAs of their own here.
                    outcome.UnknownSpis += delete.Spis.Count;
                    break;
            }
        }
        return outcome;
    }

    private static void Notify(V1NotificationPayload notify, bool authenticated, V1InfoContext context, V1InfoOutcome outcome)
    {
        if (notify.IsError)
        {
            if (!outcome.Errors.Contains(notify.NotifyType)) outcome.Errors.Add(notify.NotifyType);
            if (!context.Phase1Established) outcome.FailPhase1 = true;
            if (authenticated && notify.NotifyType is V1NotifyType.NoProposalChosen or V1NotifyType.InvalidIdInformation) outcome.CancelQuickMode = true;
            return;
        }

        if (!authenticated)
        {
            outcome.IgnoredUnprotected++;
            return;
        }
        if (notify.NotifyType == V1NotifyType.InitialContact) outcome.InitialContact = true;
    }

    /// <summary>
    /// RFC 3706 §5.3/§7, as charon's process_dpd: an R-U-THERE is always answered with its own number, but only the
    /// expected number (or the first seen) moves the receive sequence; an R-U-THERE-ACK counts only when it carries the
    /// number of our outstanding probe. Data other than 4 octets makes the notify none of these.
    /// </summary>
    private static bool ProcessDpd(IReadOnlyList<V1Payload> payloads, V1DpdState dpd, V1InfoOutcome outcome)
    {
        var notify = Find(payloads, V1NotifyType.DpdRUThere) ?? Find(payloads, V1NotifyType.DpdRUThereAck);
        if (notify is null || notify.Data.Length != 4) return false;
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(notify.Data);
        if (notify.NotifyType == V1NotifyType.DpdRUThere)
        {
            outcome.RuThereInSequence = dpd.OnRuThere(sequence);
            outcome.AckSequence = sequence;
        }
        else
        {
            outcome.AckMatched = dpd.OnAck(sequence);
        }
        return true;
    }

    private static V1NotificationPayload? Find(IReadOnlyList<V1Payload> payloads, V1NotifyType type)
    {
        foreach (var p in payloads)
        {
            if (p is V1NotificationPayload n && n.NotifyType == type) return n;
        }
        return null;
    }
}

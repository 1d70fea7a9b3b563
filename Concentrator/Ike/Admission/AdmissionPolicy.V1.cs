using System.Net;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Admission;

// IKEv1: the first main (or aggressive) mode message creates responder state just as IKE_SA_INIT does, so it passes the
// same bounds in the same order, without the COOKIE step (IKEv1 has no stateless cookie exchange): auth-failure
// back-off, a decodable message with an SA payload, per-source half-open (block_threshold), half_open limit, ikesa
// quotas, init rate.
public sealed partial class AdmissionPolicy
{
    /// <summary>True when the message is a new IKEv1 SA's first message (no responder cookie, message ID 0, cleartext,
    /// main or aggressive mode): the one that may create responder state.</summary>
    public static bool IsInitialV1(in IsakmpHeader header) =>
        header.ResponderCookie == 0 && header.MessageId == 0 && !header.Encrypted &&
        header.Exchange is V1ExchangeType.IdentityProtection or V1ExchangeType.Aggressive;

    public AdmissionDecision DecideV1(byte[] datagram, IPEndPoint remote, int halfOpen, long nowMs)
    {
        var source = remote.Address;
        if (Sources.IsBlocked(source, nowMs)) return Drop(IkeDropReason.AuthFailedBackoff);
        var status = IsakmpCodec.TryDecode(datagram, out var message, _limits.MaxPayloads);
        if (status != ParseStatus.Ok || message is null)
        {
            _metrics.CountMalformed(status);
            if (status == ParseStatus.TooManyPayloads) _metrics.Limits.Hit(ResourceLimit.MaxPayloads, _limits.MaxPayloads);
            return AdmissionDecision.Dropped;
        }
        if (message.Payloads.Count == 0 || message.Payloads[0] is not V1SaPayload) return Drop(IkeDropReason.BadPayloadSequence);
        if (Sources.AtBlockThreshold(source, proven: false)) return Drop(IkeDropReason.PerSourceLimit);
        if (halfOpen >= Options.MaxHalfOpen) return Drop(IkeDropReason.HalfOpenLimit);
        if (!Quota.TryAdmit(source)) return AdmissionDecision.Dropped;
        if (_rate is not null && !_rate.TryTake(nowMs)) return Drop(IkeDropReason.InitRateLimit);
        return AdmissionDecision.Admitted;
    }
}

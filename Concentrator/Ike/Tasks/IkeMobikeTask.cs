using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks;

/// <summary>
/// MOBIKE (RFC 4555), after strongSwan's ike_mobike: one task in every IKE_AUTH, and in the INFORMATIONAL exchanges that
/// move a tunnel.
/// <list type="bullet">
/// <item>IKE_AUTH (§3.1): MOBIKE_SUPPORTED in our request when the connection has mobike = yes; as responder in the final
/// response only to a peer that announced it. Both announced: <see cref="IkeSa.PeerSupportsMobike"/>.</item>
/// <item>Responder of UPDATE_SA_ADDRESSES (§3.5), only ever on an opened, authenticated request (the task manager runs no
/// task before): the IKE SA moves to the addresses of the request's IP header, NAT detection is recomputed from its
/// NAT_DETECTION_* payloads, and the host moves every Child SA's outbound ESP (<see cref="PeerMoved"/>); the response
/// carries our NAT detection for that path and the request's COOKIE2. No return routability check of our own before the
/// move, as strongSwan's responder: the request is authenticated with the SA's keys, its message ID is newer than any
/// before it (a retransmission gets the cached response and moves nothing), and a peer that moved sends its ESP from the
/// new address at once (§3.7 allows omitting the check where peers are authenticated VPN clients). A peer that did not
/// negotiate MOBIKE is ignored (§3.1; counted).</item>
/// <item>Original initiator: <see cref="Update"/> sends UPDATE_SA_ADDRESSES with COOKIE2 (checked in the response, §3.7)
/// and NAT detection; <see cref="NatCheck"/> rides on a DPD probe behind a NAT and sends an update when the NAT's mapping
/// changed (§3.8). The responder's address list (ADDITIONAL_*_ADDRESS, NO_ADDITIONAL_ADDRESSES) is kept, and a request
/// carrying it from a new responder address moves the SA there (§3.6, as strongSwan's process_r).</item>
/// </list>
/// </summary>
public sealed class IkeMobikeTask : IIkeTask
{
    /// <summary>COOKIE2 octets we send (RFC 4555 §4.2.5: 8 to 64, unpredictable), strongSwan's size.</summary>
    public const int Cookie2Length = 16;
    public const int MinCookie2 = 8, MaxCookie2 = 64;

    /// <summary>Peer addresses kept from one list (strongSwan's MAX_ADDITIONAL_ADDRS); more are ignored.</summary>
    public const int MaxAdditionalAddresses = 8;

    private enum Role
    {
        /// <summary>In IKE_AUTH, or answering the peer's INFORMATIONAL.</summary>
        Negotiate,
        /// <summary>Our UPDATE_SA_ADDRESSES.</summary>
        Update,
        /// <summary>NAT detection on our DPD probe.</summary>
        NatCheck,
    }

    private readonly Role _role;
    private byte[]? _cookie2;
    private bool _natDetection;
    private bool _unexpectedNat;
    private bool _ikeAuth;

    public IkeMobikeTask() : this(Role.Negotiate)
    {
    }

    private IkeMobikeTask(Role role) => _role = role;

    /// <summary>Our UPDATE_SA_ADDRESSES request (original initiator, <see cref="IkeSa.UpdateAddresses"/>).</summary>
    internal static IkeMobikeTask Update() => new(Role.Update);

    /// <summary>NAT detection added to a DPD probe (original initiator behind a NAT, RFC 4555 §3.8).</summary>
    internal static IkeMobikeTask NatCheck() => new(Role.NatCheck);

    /// <summary>Whether an INFORMATIONAL request carries anything of MOBIKE's (the responder adds this task for it).</summary>
    public static bool Concerns(IkeMessage request)
    {
        foreach (var n in request.GetAll<NotifyPayload>())
        {
            if (n.NotifyType is NotifyType.UpdateSaAddresses or NotifyType.Cookie2 or NotifyType.AdditionalIp4Address or
                NotifyType.AdditionalIp6Address or NotifyType.NoAdditionalAddresses or NotifyType.NoNatsAllowed or
                NotifyType.NatDetectionSourceIp or NotifyType.NatDetectionDestinationIp)
            {
                return true;
            }
        }
        return false;
    }

    // ---- Initiator ----

    public void BuildRequest(IkeSa sa, List<Payload> payloads)
    {
        switch (_role)
        {
            case Role.Negotiate:
                if (sa.Connection is { Mobike: true }) payloads.Add(new NotifyPayload(NotifyType.MobikeSupported));
                break;
            case Role.Update:
                payloads.Add(new NotifyPayload(NotifyType.UpdateSaAddresses));
                IkeInitTask.AddNatDetection(sa, payloads, sa.SpiR, sa.LocalEndpoint, sa.RemoteEndpoint);
                // §3.9: without NAT-T the addresses are protected (a NAT on the path is refused by the responder).
                if (!sa.NatT) payloads.Add(new NotifyPayload(NotifyType.NoNatsAllowed, NoNatsAllowed.Build(sa.LocalEndpoint, sa.RemoteEndpoint)));
                if (_cookie2 is not null) CryptographicOperations.ZeroMemory(_cookie2);
                _cookie2 = RandomNumberGenerator.GetBytes(Cookie2Length);
                payloads.Add(new NotifyPayload(NotifyType.Cookie2, _cookie2.ToArray()));
                sa.Context.Metrics.CountMobikeUpdate(MobikeOutcome.Sent);
                break;
            case Role.NatCheck:
                IkeInitTask.AddNatDetection(sa, payloads, sa.SpiR, sa.LocalEndpoint, sa.RemoteEndpoint);
                break;
        }
    }

    public TaskOutcome ProcessResponse(IkeSa sa, IkeMessage response)
    {
        switch (_role)
        {
            case Role.Negotiate:
                // The IKE_AUTH response that established the SA (a failed one ended it before this task).
                if (sa.State == IkeSaState.Established && sa.Connection is { Mobike: true } &&
                    response.GetNotify(NotifyType.MobikeSupported) is not null)
                {
                    sa.PeerSupportsMobike = true;
                    sa.Touch();
                }
                StoreAdditionalAddresses(sa, response);
                return TaskOutcome.Done;
            case Role.Update:
                return UpdateAnswered(sa, response);
            default:
                return NatChecked(sa, response);
        }
    }

    private TaskOutcome UpdateAnswered(IkeSa sa, IkeMessage response)
    {
        var echoed = response.GetNotify(NotifyType.Cookie2)?.Data;
        var sent = _cookie2;
        _cookie2 = null;
        bool match = sent is not null && echoed is not null && CryptographicOperations.FixedTimeEquals(sent, echoed);
        if (sent is not null) CryptographicOperations.ZeroMemory(sent);
        if (!match)
        {
            // §3.7: the IKE SA MUST be closed.
            sa.Context.Metrics.CountMobikeUpdate(MobikeOutcome.CookieMismatch);
            return sa.Fail(CloseReason.InvalidSyntax);
        }
        if (response.GetNotify(NotifyType.UnacceptableAddresses) is not null || response.GetNotify(NotifyType.UnexpectedNatDetected) is not null)
        {
            sa.Context.Metrics.CountMobikeUpdate(MobikeOutcome.Refused);
            return TaskOutcome.Done;
        }
        var (_, local, _) = sa.TaskManager.CurrentPath;
        IkeInitTask.CheckNat(sa, response, local, sa.RemoteEndpoint);
        sa.Touch();
        sa.Context.Metrics.CountMobikeUpdate(MobikeOutcome.Confirmed);
        return TaskOutcome.Done;
    }

    /// <summary>§3.8: a DESTINATION hash unlike the last one means our NAT maps us elsewhere now: tell the responder. The
    /// first check after floating to port 4500 only learns the mapping.</summary>
    private static TaskOutcome NatChecked(IkeSa sa, IkeMessage response)
    {
        var before = sa.NatMappingHash;
        var (_, local, _) = sa.TaskManager.CurrentPath;
        IkeInitTask.CheckNat(sa, response, local, sa.RemoteEndpoint);
        var after = sa.NatMappingHash;
        if (before is not null && after is not null && !before.AsSpan().SequenceEqual(after)) sa.UpdateAddresses();
        return TaskOutcome.Done;
    }

    // ---- Responder ----

    public TaskOutcome ProcessRequest(IkeSa sa, IkeMessage request)
    {
        if (request.Header.Exchange == ExchangeType.IkeAuth)
        {
            _ikeAuth = true;
            if (request.GetNotify(NotifyType.MobikeSupported) is not null) sa.PeerAnnouncedMobike = true;
            StoreAdditionalAddresses(sa, request);
            return TaskOutcome.Done;
        }

        // §3.5: only the original initiator moves the SA; from the original responder the notify means nothing.
        bool update = !sa.OriginalInitiator && request.GetNotify(NotifyType.UpdateSaAddresses) is not null;
        if (!sa.PeerSupportsMobike)
        {
            // §3.1: MOBIKE's notifications mean nothing on an SA that did not negotiate it; unknown status notifies are ignored.
            if (update) sa.Context.Metrics.CountMobikeUpdate(MobikeOutcome.NotNegotiated);
            return TaskOutcome.Done;
        }

        var (remote, local, viaNatT) = sa.TaskManager.CurrentPath;
        _natDetection = request.GetNotify(NotifyType.NatDetectionSourceIp) is not null;
        if (request.GetNotify(NotifyType.Cookie2) is { } cookie)
        {
            if (cookie.Data.Length is < MinCookie2 or > MaxCookie2)
            {
                if (update) sa.Context.Metrics.CountMobikeUpdate(MobikeOutcome.Malformed);
                return TaskOutcome.Done;
            }
            _cookie2 = cookie.Data;
        }

        bool addressList = StoreAdditionalAddresses(sa, request);
        if (update)
        {
            if (request.GetNotify(NotifyType.NoNatsAllowed) is { } noNats)
            {
                if (NoNatsAllowed.TryParse(noNats.Data, out var said) != ParseStatus.Ok)
                {
                    sa.Context.Metrics.CountMobikeUpdate(MobikeOutcome.Malformed);
                    return TaskOutcome.Done;
                }
                if (!said!.Matches(remote, local))
                {
                    _unexpectedNat = true;
                    sa.Context.Metrics.CountMobikeUpdate(MobikeOutcome.NatRefused);
                    return TaskOutcome.Done;
                }
            }
            bool moved = sa.MoveByMobike(remote, local, viaNatT);
            if (_natDetection) IkeInitTask.CheckNat(sa, request, local, remote);
            sa.Touch();
            sa.Context.Metrics.CountMobikeUpdate(moved ? MobikeOutcome.Moved : MobikeOutcome.Unchanged);
        }
        else if (addressList && sa.OriginalInitiator && !remote.Equals(sa.RemoteEndpoint))
        {
            // §3.6: the responder announces its addresses from one that replaced ours in use: the original initiator, which
            // decides the addresses, follows it (strongSwan's process_r).
            sa.MoveByMobike(remote, local, viaNatT);
            if (_natDetection) IkeInitTask.CheckNat(sa, request, local, remote);
        }
        return TaskOutcome.Done;
    }

    public void BuildResponse(IkeSa sa, List<Payload> payloads)
    {
        if (_role != Role.Negotiate) return;
        if (_ikeAuth)
        {
            // The final IKE_AUTH response (the SA is established by now; an EAP round's is not): MOBIKE_SUPPORTED only to a
            // peer that announced it (§3.1).
            if (sa.State == IkeSaState.Established && sa.PeerAnnouncedMobike && sa.Connection is { Mobike: true })
            {
                sa.PeerSupportsMobike = true;
                payloads.Add(new NotifyPayload(NotifyType.MobikeSupported));
            }
            return;
        }
        var (remote, local, _) = sa.TaskManager.CurrentPath;
        if (_unexpectedNat) payloads.Add(new NotifyPayload(NotifyType.UnexpectedNatDetected));
        // §3.8: NAT detection in the request is answered with ours, for the path the response takes.
        else if (_natDetection) IkeInitTask.AddNatDetection(sa, payloads, sa.SpiR, local, remote);
        if (_cookie2 is not null) payloads.Add(new NotifyPayload(NotifyType.Cookie2, _cookie2));
    }

    /// <summary>
    /// The peer's address list (§3.4, §3.6): its ADDITIONAL_*_ADDRESS notifies (at most <see cref="MaxAdditionalAddresses"/>,
    /// malformed ones skipped), or none with NO_ADDITIONAL_ADDRESSES. Kept for the original initiator, which alone chooses
    /// addresses; true when the message carried a list.
    /// </summary>
    private static bool StoreAdditionalAddresses(IkeSa sa, IkeMessage message)
    {
        var list = new List<IPAddress>();
        bool any = false;
        foreach (var n in message.GetAll<NotifyPayload>())
        {
            switch (n.NotifyType)
            {
                case NotifyType.NoAdditionalAddresses:
                    any = true;
                    break;
                case NotifyType.AdditionalIp4Address or NotifyType.AdditionalIp6Address:
                    any = true;
                    int length = n.NotifyType == NotifyType.AdditionalIp4Address ? 4 : 16;
                    if (n.Data.Length == length && list.Count < MaxAdditionalAddresses) list.Add(new IPAddress(n.Data));
                    break;
            }
        }
        if (any && sa.OriginalInitiator) sa.PeerAdditionalAddresses = list;
        return any;
    }
}

using Concentrator.Ike.Connections;
using Concentrator.Ike.Tasks;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa;

/// <summary>Childless IKE SAs (RFC 6023) as strongSwan's ike_init and child_create decide them (swanctl childless).</summary>
public sealed partial class IkeSa
{
    /// <summary>The peer sent CHILDLESS_IKEV2_SUPPORTED in IKE_SA_INIT (RFC 6023 §3); an initiator with childless prefer
    /// goes childless only then, one with force fails without it.</summary>
    public bool PeerSupportsChildless { get; internal set; }

    /// <summary>
    /// Responder: our IKE_SA_INIT response announced CHILDLESS_IKEV2_SUPPORTED, so a childless IKE_AUTH may follow (RFC 6023
    /// §3: an initiator goes childless only to a responder that announced it). Read from the response itself, which a
    /// half-open SA's snapshot carries: the node that adopts it before IKE_AUTH decides as this one would have.
    /// </summary>
    internal bool ChildlessAnnounced =>
        !IsInitiator && InitResponse.Length > 0 && IkeCodec.TryDecode(InitResponse, out var response) == ParseStatus.Ok &&
        response!.GetNotify(NotifyType.ChildlessIkev2Supported) is not null;

    /// <summary>Whether our IKE_SA_INIT (request or response) carries CHILDLESS_IKEV2_SUPPORTED.</summary>
    internal bool AnnouncesChildless => Connection is { Childless: not ChildlessPolicy.Never };

    /// <summary>
    /// Initiator in IKE_AUTH: the first child waits for a CREATE_CHILD_SA of its own (strongSwan's defer_child_sa): with
    /// force, or with prefer when the responder announced support. Force against a responder that did not is checked
    /// first (<see cref="ChildlessUnsupportedByPeer"/>).
    /// </summary>
    internal bool DefersFirstChild => Connection is { Childless: ChildlessPolicy.Force } ||
        (Connection is { Childless: ChildlessPolicy.Prefer } && PeerSupportsChildless);

    /// <summary>Initiator: childless force, and the responder did not announce support; the IKE SA fails before IKE_AUTH
    /// goes out with a child it would have to refuse (strongSwan: "peer does not support childless IKE_SA initiation").</summary>
    internal bool ChildlessUnsupportedByPeer => Connection is { Childless: ChildlessPolicy.Force } && !PeerSupportsChildless;

    /// <summary>
    /// Responder: why an IKE_AUTH request of this shape is refused, or null when it is not (strongSwan's handle_childless).
    /// A childless request needs our announcement and a connection that is not never; a request with a child is refused
    /// by force, which takes childless initiation only.
    /// </summary>
    internal string? RefusesIkeAuthShape(IkeMessage request)
    {
        bool childless = request.Get<SaPayload>() is null && request.Get<TsPayload>(PayloadType.TsInitiator) is null &&
            request.Get<TsPayload>(PayloadType.TsResponder) is null;
        var policy = Connection!.Childless;
        if (childless && !ChildlessAnnounced) return "childless IKE_AUTH, but CHILDLESS_IKEV2_SUPPORTED was not announced";
        if (childless && policy == ChildlessPolicy.Never) return "childless IKE_AUTH, but the connection has childless never";
        if (!childless && policy == ChildlessPolicy.Force) return "IKE_AUTH with a Child SA, but the connection has childless force";
        return null;
    }

    /// <summary>The childless policies of the two ends do not meet: logged by the host, then the SA ends (the responder
    /// answering INVALID_SYNTAX first, as strongSwan's child_create).</summary>
    internal TaskOutcome ChildlessMismatch(string detail)
    {
        Emit(new ChildlessMismatched(detail));
        return IsInitiator ? Fail(CloseReason.ChildlessMismatch) : RejectWith(NotifyType.InvalidSyntax, CloseReason.ChildlessMismatch);
    }
}

using System.Collections.Frozen;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Wire;

/// <summary>How often a payload type may appear in a message.</summary>
public readonly record struct Occurrence(int Min, int Max)
{
    public static readonly Occurrence One = new(1, 1);
    public static readonly Occurrence Optional = new(0, 1);
    public static readonly Occurrence Any = new(0, WireLimits.MaxPayloadsPerMessage);
}

/// <summary>
/// One acceptable shape of a message. <see cref="Payloads"/> lists every payload type allowed (a type not
/// listed is not allowed); each group in <see cref="AllOrNone"/> must be wholly present or wholly absent.
/// </summary>
public sealed record MessageShape(
    string Name,
    IReadOnlyDictionary<PayloadType, Occurrence> Payloads,
    IReadOnlyList<PayloadType[]> AllOrNone)
{
    /// <summary>When set, the shape applies only to messages carrying this notify, and minimum counts are waived.</summary>
    public NotifyType? RequiredNotify { get; init; }
}

/// <summary>
/// Which payloads each exchange needs (RFC 7296 §1.2–§1.5, §2.16), checked after parsing and, for
/// encrypted exchanges, on the inner payloads of the opened SK payload.
/// </summary>
/// <remarks>
/// The rules are data: <see cref="Table"/> maps (exchange, isResponse) to the acceptable shapes; a message
/// passes when it fits any one of them. Lenient where RFC 7296 lets a peer be:
/// <list type="bullet">
/// <item>A response with an error Notify (type &lt; 16384) needs nothing else: minimum counts are waived
/// (maximum counts, allowed types and all-or-none groups still apply). A request never is: an error notify answers a
/// request, so a request carrying one still needs its payloads (strongSwan's rules mark Notify sufficient in responses
/// only), and the tasks may rely on a request's required payloads being there.</item>
/// <item>An IKE_SA_INIT response with a COOKIE notify needs nothing else (§2.6).</item>
/// <item>Notify and Vendor ID payloads are allowed everywhere; unknown non-critical payloads are ignored (§2.5).</item>
/// <item>IKE_AUTH also admits the EAP round trips of §2.16 (IDi without AUTH, EAP only, final AUTH).</item>
/// </list>
/// Payload order is not checked (RFC 7296 fixes none except SK last, which the codec enforces).
/// </remarks>
public static class PayloadRules
{
    /// <summary>Payloads of which one message carries at most one, whatever the exchange.</summary>
    public static readonly IReadOnlyList<PayloadType> AtMostOnce =
    [
        PayloadType.SecurityAssociation, PayloadType.KeyExchange, PayloadType.Nonce, PayloadType.IdInitiator,
        PayloadType.IdResponder, PayloadType.Authentication, PayloadType.TsInitiator, PayloadType.TsResponder,
    ];

    private static readonly PayloadType[] ChildSaGroup = [PayloadType.SecurityAssociation, PayloadType.TsInitiator, PayloadType.TsResponder];
    private static readonly PayloadType[] TsGroup = [PayloadType.TsInitiator, PayloadType.TsResponder];

    /// <summary>The rule table: (exchange, isResponse) → acceptable message shapes.</summary>
    public static readonly IReadOnlyDictionary<(ExchangeType Exchange, bool IsResponse), IReadOnlyList<MessageShape>> Table =
        new Dictionary<(ExchangeType, bool), IReadOnlyList<MessageShape>>
        {
            // §1.2: HDR, SAi1, KEi, Ni
            [(ExchangeType.IkeSaInit, false)] =
            [
                Shape("IKE_SA_INIT request", [],
                    (PayloadType.SecurityAssociation, Occurrence.One), (PayloadType.KeyExchange, Occurrence.One),
                    (PayloadType.Nonce, Occurrence.One)),
            ],
            // §1.2: HDR, SAr1, KEr, Nr, [CERTREQ]; §2.6 COOKIE and §1.2 error responses carry only N.
            [(ExchangeType.IkeSaInit, true)] =
            [
                Shape("IKE_SA_INIT response", [],
                    (PayloadType.SecurityAssociation, Occurrence.One), (PayloadType.KeyExchange, Occurrence.One),
                    (PayloadType.Nonce, Occurrence.One), (PayloadType.CertificateRequest, Occurrence.Any)),
                Shape("IKE_SA_INIT COOKIE response", [],
                    (PayloadType.Notify, new Occurrence(1, WireLimits.MaxPayloadsPerMessage))) with { RequiredNotify = NotifyType.Cookie },
            ],
            // §1.2: SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, [CP,] SAi2, TSi, TSr}; §1.2 childless (RFC 6023) drops SA/TS.
            [(ExchangeType.IkeAuth, false)] =
            [
                Shape("IKE_AUTH request", [ChildSaGroup],
                    (PayloadType.IdInitiator, Occurrence.One), (PayloadType.Authentication, Occurrence.One),
                    (PayloadType.Certificate, Occurrence.Any), (PayloadType.CertificateRequest, Occurrence.Any),
                    (PayloadType.IdResponder, Occurrence.Optional), (PayloadType.Configuration, Occurrence.Optional),
                    (PayloadType.SecurityAssociation, Occurrence.Optional), (PayloadType.TsInitiator, Occurrence.Optional),
                    (PayloadType.TsResponder, Occurrence.Optional)),
                // §2.16: AUTH omitted to ask for EAP.
                Shape("IKE_AUTH request (EAP start)", [ChildSaGroup],
                    (PayloadType.IdInitiator, Occurrence.One),
                    (PayloadType.Certificate, Occurrence.Any), (PayloadType.CertificateRequest, Occurrence.Any),
                    (PayloadType.IdResponder, Occurrence.Optional), (PayloadType.Configuration, Occurrence.Optional),
                    (PayloadType.SecurityAssociation, Occurrence.Optional), (PayloadType.TsInitiator, Occurrence.Optional),
                    (PayloadType.TsResponder, Occurrence.Optional)),
                Shape("IKE_AUTH request (EAP)", [], (PayloadType.Eap, Occurrence.One)),
                Shape("IKE_AUTH request (EAP final AUTH)", [], (PayloadType.Authentication, Occurrence.One)),
            ],
            // §1.2: SK {IDr, [CERT,] AUTH, [CP,] SAr2, TSi, TSr}
            [(ExchangeType.IkeAuth, true)] =
            [
                Shape("IKE_AUTH response", [ChildSaGroup],
                    (PayloadType.IdResponder, Occurrence.One), (PayloadType.Authentication, Occurrence.One),
                    (PayloadType.Certificate, Occurrence.Any), (PayloadType.Configuration, Occurrence.Optional),
                    (PayloadType.SecurityAssociation, Occurrence.Optional), (PayloadType.TsInitiator, Occurrence.Optional),
                    (PayloadType.TsResponder, Occurrence.Optional)),
                // §2.16: SK {IDr, [CERT,] AUTH, EAP}, then SK {EAP}..., then SK {AUTH, SAr2, TSi, TSr}.
                Shape("IKE_AUTH response (EAP start)", [],
                    (PayloadType.IdResponder, Occurrence.One), (PayloadType.Authentication, Occurrence.Optional),
                    (PayloadType.Certificate, Occurrence.Any), (PayloadType.Eap, Occurrence.One)),
                Shape("IKE_AUTH response (EAP)", [], (PayloadType.Eap, Occurrence.One)),
                Shape("IKE_AUTH response (EAP final AUTH)", [ChildSaGroup],
                    (PayloadType.Authentication, Occurrence.One), (PayloadType.Configuration, Occurrence.Optional),
                    (PayloadType.SecurityAssociation, Occurrence.Optional), (PayloadType.TsInitiator, Occurrence.Optional),
                    (PayloadType.TsResponder, Occurrence.Optional)),
            ],
            // §1.3.1/§1.3.2/§1.3.3: SK {[N(REKEY_SA)], SA, Ni, [KEi], [TSi, TSr]}; responses mirror it.
            [(ExchangeType.CreateChildSa, false)] = [CreateChildSa("CREATE_CHILD_SA request")],
            [(ExchangeType.CreateChildSa, true)] = [CreateChildSa("CREATE_CHILD_SA response")],
            // §1.4: SK {[N,] [D,] [CP,] ...}; an empty one is a liveness check.
            [(ExchangeType.Informational, false)] = [Informational("INFORMATIONAL request")],
            [(ExchangeType.Informational, true)] = [Informational("INFORMATIONAL response")],
        }.ToFrozenDictionary();

    /// <summary>
    /// Ok when <paramref name="payloads"/> fits one of the shapes for the exchange and direction, otherwise
    /// <see cref="ParseStatus.BadPayloadSequence"/> (also for an exchange type without rules).
    /// </summary>
    public static ParseStatus Check(ExchangeType exchange, bool isResponse, IReadOnlyList<Payload> payloads)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        if (!Table.TryGetValue((exchange, isResponse), out var shapes)) return ParseStatus.BadPayloadSequence;

        Span<int> counts = stackalloc int[256];
        bool hasError = false;
        var notifies = new HashSet<NotifyType>();
        foreach (var p in payloads)
        {
            counts[(int)p.Type]++;
            if (p is NotifyPayload n)
            {
                hasError |= n.IsError && isResponse;
                notifies.Add(n.NotifyType);
            }
        }

        foreach (var type in AtMostOnce)
        {
            if (counts[(int)type] > 1) return ParseStatus.BadPayloadSequence;
        }

        foreach (var shape in shapes)
        {
            if (Fits(shape, counts, hasError, notifies)) return ParseStatus.Ok;
        }

        return ParseStatus.BadPayloadSequence;
    }

    private static bool Fits(MessageShape shape, ReadOnlySpan<int> counts, bool hasError, HashSet<NotifyType> notifies)
    {
        if (shape.RequiredNotify is { } required && !notifies.Contains(required)) return false;
        bool waiveMinimum = hasError || shape.RequiredNotify is not null;

        for (int t = 0; t < counts.Length; t++)
        {
            int count = counts[t];
            var type = (PayloadType)t;
            if (shape.Payloads.TryGetValue(type, out var occurrence))
            {
                if (count > occurrence.Max) return false;
                if (count < occurrence.Min && !waiveMinimum) return false;
            }
            else if (count > 0 && IsKnown(type))
            {
                return false;
            }
        }

        foreach (var group in shape.AllOrNone)
        {
            int present = 0;
            foreach (var type in group)
            {
                if (counts[(int)type] > 0) present++;
            }

            if (present != 0 && present != group.Length) return false;
        }

        return true;
    }

    /// <summary>Types we define; any other type reached here is an ignored non-critical payload (§2.5).</summary>
    private static bool IsKnown(PayloadType type) => type is
        PayloadType.SecurityAssociation or PayloadType.KeyExchange or PayloadType.IdInitiator or PayloadType.IdResponder or
        PayloadType.Certificate or PayloadType.CertificateRequest or PayloadType.Authentication or PayloadType.Nonce or
        PayloadType.Notify or PayloadType.Delete or PayloadType.VendorId or PayloadType.TsInitiator or
        PayloadType.TsResponder or PayloadType.Encrypted or PayloadType.Configuration or PayloadType.Eap or
        PayloadType.EncryptedFragment or PayloadType.None;

    private static MessageShape CreateChildSa(string name) => Shape(name, [TsGroup],
        (PayloadType.SecurityAssociation, Occurrence.One), (PayloadType.Nonce, Occurrence.One),
        (PayloadType.KeyExchange, Occurrence.Optional), (PayloadType.TsInitiator, Occurrence.Optional),
        (PayloadType.TsResponder, Occurrence.Optional));

    private static MessageShape Informational(string name) => Shape(name, [],
        (PayloadType.Delete, Occurrence.Any), (PayloadType.Configuration, Occurrence.Optional));

    /// <summary>Builds a shape; Notify and Vendor ID are added to every shape unless given.</summary>
    private static MessageShape Shape(string name, PayloadType[][] allOrNone, params (PayloadType Type, Occurrence Occurs)[] payloads)
    {
        var map = new Dictionary<PayloadType, Occurrence>
        {
            [PayloadType.Notify] = Occurrence.Any,
            [PayloadType.VendorId] = Occurrence.Any,
        };
        foreach (var (type, occurs) in payloads) map[type] = occurs;
        return new MessageShape(name, map.ToFrozenDictionary(), allOrNone);
    }
}

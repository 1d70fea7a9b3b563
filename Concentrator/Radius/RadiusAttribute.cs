using System.Buffers.Binary;
using System.Net;

namespace Concentrator.Radius;

/// <summary>The attribute types this client sends or reads (RFC 2865 §5, RFC 2866 §5, RFC 2869 §5, RFC 3162).</summary>
public enum RadiusAttributeType : byte
{
    UserName = 1,
    UserPassword = 2,
    NasIpAddress = 4,
    NasPort = 5,
    ServiceType = 6,
    FramedIpAddress = 8,
    ReplyMessage = 18,
    State = 24,
    Class = 25,
    VendorSpecific = 26,
    SessionTimeout = 27,
    CalledStationId = 30,
    CallingStationId = 31,
    NasIdentifier = 32,
    AcctStatusType = 40,
    AcctDelayTime = 41,
    AcctInputOctets = 42,
    AcctOutputOctets = 43,
    AcctSessionId = 44,
    AcctSessionTime = 46,
    AcctInputPackets = 47,
    AcctOutputPackets = 48,
    AcctTerminateCause = 49,
    AcctInputGigawords = 52,
    AcctOutputGigawords = 53,
    EventTimestamp = 55,
    NasPortType = 61,
    AcctInterimInterval = 85,
    NasPortId = 87,
    EapMessage = 79,
    MessageAuthenticator = 80,
    NasIpv6Address = 95,
}

/// <summary>Values of the enumerated attributes this client sends.</summary>
public static class RadiusValues
{
    /// <summary>Service-Type Framed (RFC 2865 §5.6).</summary>
    public const uint ServiceTypeFramed = 2;
    /// <summary>NAS-Port-Type Virtual (RFC 2865 §5.41): what strongSwan's eap-radius sends.</summary>
    public const uint NasPortTypeVirtual = 5;

    /// <summary>Acct-Status-Type (RFC 2866 §5.1).</summary>
    public const uint AcctStart = 1, AcctStop = 2, AcctInterimUpdate = 3, AcctOn = 7, AcctOff = 8;
}

/// <summary>Acct-Terminate-Cause (RFC 2866 §5.10): the causes an IKE SA's end maps to.</summary>
public enum RadiusTerminateCause : uint
{
    UserRequest = 1,
    LostCarrier = 2,
    IdleTimeout = 4,
    SessionTimeout = 5,
    AdminReset = 6,
    AdminReboot = 7,
    NasError = 9,
    NasRequest = 10,
}

/// <summary>Helpers for attribute values: the EAP-Message split (RFC 3579 §3.1) and typed reads.</summary>
public static class RadiusAttribute
{
    /// <summary>An attribute's Length is one octet and counts its own two-octet header (§5).</summary>
    public const int MaxValueLength = 253;

    /// <summary>
    /// Appends one EAP packet as consecutive EAP-Message attributes of at most 253 octets (RFC 3579 §3.1: the server
    /// concatenates them in order). False when the packet does not fit.
    /// </summary>
    public static bool TryAddEapMessage(ref RadiusWriter writer, ReadOnlySpan<byte> eap)
    {
        if (eap.IsEmpty) return writer.TryAdd(RadiusAttributeType.EapMessage, eap);
        while (eap.Length > 0)
        {
            int n = Math.Min(MaxValueLength, eap.Length);
            if (!writer.TryAdd(RadiusAttributeType.EapMessage, eap[..n])) return false;
            eap = eap[n..];
        }
        return true;
    }

    /// <summary>
    /// The EAP packet carried by a response: every EAP-Message value concatenated in order. Null when there is none or the
    /// result is not one whole EAP packet (RFC 3748 §4: its Length field equals the concatenation's length).
    /// </summary>
    public static byte[]? ReassembleEap(RadiusPacket packet)
    {
        int total = 0;
        var reader = packet.Attributes;
        while (reader.TryNext(out var type, out var value))
        {
            if (type == RadiusAttributeType.EapMessage) total += value.Length;
        }
        if (total < 4) return null;
        var eap = new byte[total];
        int at = 0;
        reader = packet.Attributes;
        while (reader.TryNext(out var type, out var value))
        {
            if (type != RadiusAttributeType.EapMessage) continue;
            value.CopyTo(eap.AsSpan(at));
            at += value.Length;
        }
        return BinaryPrimitives.ReadUInt16BigEndian(eap.AsSpan(2)) == total ? eap : null;
    }

    /// <summary>Framed-IP-Address (RFC 2865 §5.8), ignoring the special values 255.255.255.255 (user picks) and
    /// 255.255.255.254 (NAS picks): both leave the choice to the pools.</summary>
    public static IPAddress? FramedAddress(RadiusPacket packet)
    {
        if (!packet.TryFind(RadiusAttributeType.FramedIpAddress, out var value) || value.Length != 4) return null;
        uint raw = BinaryPrimitives.ReadUInt32BigEndian(value);
        return raw is 0xFFFFFFFF or 0xFFFFFFFE or 0 ? null : new IPAddress(value);
    }

    /// <summary>Every Class attribute (RFC 2865 §5.25) as received, for echoing in accounting.</summary>
    public static List<byte[]> Classes(RadiusPacket packet)
    {
        var classes = new List<byte[]>();
        var reader = packet.Attributes;
        while (reader.TryNext(out var type, out var value))
        {
            if (type == RadiusAttributeType.Class && value.Length > 0) classes.Add(value.ToArray());
        }
        return classes;
    }
}

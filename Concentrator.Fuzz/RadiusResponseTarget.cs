using System.Security.Cryptography;
using Concentrator.Radius;

namespace Concentrator.Fuzz;

/// <summary>
/// radius-response: a datagram arriving on the RADIUS client's socket, answering a fixed request.
/// <code>
/// input[0]  bit 0: the request was an Accounting-Request (else an Access-Request)
///           bit 1: sign it: the target fills in the Message-Authenticator (when the packet has one) and the Response
///                  Authenticator with the shared secret, so mutations reach what is read after verification
/// input[1..] the datagram
/// </code>
/// Parsed, verified as the socket verifies it, then read as the EAP session reads an answer (EAP-Message reassembly,
/// State, Framed-IP-Address, Class, the MS-MPPE keys into an MSK). Besides any exception, a crash is a reassembled EAP
/// packet whose Length field disagrees with its size, or an MSK shorter than 64 octets.
/// </summary>
public static class RadiusResponseTarget
{
    public static readonly byte[] Secret = "fuzzing-secret"u8.ToArray();
    public static readonly byte[] RequestAuthenticator = Convert.FromHexString("00112233445566778899aabbccddeeff");

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 1) return;
        byte flags = input[0];
        var requestCode = (flags & 1) != 0 ? RadiusCode.AccountingRequest : RadiusCode.AccessRequest;
        var datagram = input[1..].ToArray();
        if ((flags & 2) != 0) Sign(datagram);
        if (RadiusPacket.TryParse(datagram, out var packet) != RadiusParseStatus.Ok) return;
        bool verified = RadiusSocket.Verify(packet, requestCode, RequestAuthenticator, Secret) is null;
        if ((flags & 2) != 0 && !verified && packet.Code is RadiusCode.AccessAccept or RadiusCode.AccessChallenge &&
            requestCode == RadiusCode.AccessRequest && CountMacs(packet) == 1 && MacLengthOk(packet))
        {
            throw new InvalidOperationException("a response the target signed failed verification");
        }
        if (RadiusAttribute.ReassembleEap(packet) is { } eap && (eap.Length < 4 || ((eap[2] << 8) | eap[3]) != eap.Length))
        {
            throw new InvalidOperationException("reassembled EAP packet disagrees with its Length");
        }
        packet.TryFind(RadiusAttributeType.State, out _);
        RadiusAttribute.FramedAddress(packet);
        RadiusAttribute.Classes(packet);
        var msk = MsMppeKey.DecryptMsk(packet, RequestAuthenticator, Secret);
        if (msk is not null)
        {
            if (msk.Length < MsMppeKey.MskLength) throw new InvalidOperationException($"MSK of {msk.Length} octets");
            CryptographicOperations.ZeroMemory(msk);
        }
    }

    /// <summary>Signs as a server would, over whatever the datagram's Length field covers.</summary>
    private static void Sign(byte[] datagram)
    {
        if (RadiusPacket.TryParse(datagram, out var packet) != RadiusParseStatus.Ok) return;
        int length = packet.Bytes.Length;
        int mac = -1;
        var reader = packet.Attributes;
        while (reader.TryNext(out var type, out var value))
        {
            if (type == RadiusAttributeType.MessageAuthenticator && value.Length == RadiusAuthenticator.Length && mac < 0)
            {
                mac = RadiusPacket.HeaderLength + reader.Offset + 2;
            }
        }
        var span = datagram.AsSpan(0, length);
        if (mac >= 0)
        {
            RequestAuthenticator.CopyTo(span[4..]);
            span.Slice(mac, RadiusAuthenticator.Length).Clear();
            RadiusAuthenticator.SignMessageAuthenticator(span, mac, [], Secret);
        }
        RadiusAuthenticator.SignResponse(span, RequestAuthenticator, Secret);
    }

    private static int CountMacs(RadiusPacket packet)
    {
        int n = 0;
        var reader = packet.Attributes;
        while (reader.TryNext(out var type, out _)) n += type == RadiusAttributeType.MessageAuthenticator ? 1 : 0;
        return n;
    }

    private static bool MacLengthOk(RadiusPacket packet) =>
        packet.TryFind(RadiusAttributeType.MessageAuthenticator, out var v) && v.Length == RadiusAuthenticator.Length;

    /// <summary>Seeds: a Challenge carrying a split EAP request and State, an Accept with MPPE keys, Framed-IP and Class,
    /// a bare Reject, an Accounting-Response, and hostile shapes (an attribute running past the packet, a short header).</summary>
    public static IEnumerable<(string Name, byte[] Data)> Seeds()
    {
        var bigEap = new byte[600];
        bigEap[0] = 1;
        bigEap[1] = 7;
        bigEap[2] = 600 >> 8;
        bigEap[3] = 600 & 0xff;
        bigEap[4] = 26;
        yield return ("challenge-split-eap", [2, .. Build(RadiusCode.AccessChallenge, true, w =>
        {
            w.TryAdd(RadiusAttributeType.State, "state-1"u8);
            RadiusAttribute.TryAddEapMessage(ref w, bigEap);
            return w;
        })]);
        yield return ("accept-mppe", [2, .. Build(RadiusCode.AccessAccept, true, w =>
        {
            w.TryAdd(RadiusAttributeType.FramedIpAddress, [10, 3, 0, 9]);
            w.TryAdd(RadiusAttributeType.Class, "staff"u8);
            w.TryAdd(RadiusAttributeType.VendorSpecific, Mppe(MsMppeKey.SendKeyType));
            w.TryAdd(RadiusAttributeType.VendorSpecific, Mppe(MsMppeKey.RecvKeyType));
            RadiusAttribute.TryAddEapMessage(ref w, [3, 7, 0, 4]);
            return w;
        })]);
        yield return ("reject", [2, .. Build(RadiusCode.AccessReject, false, w => w)]);
        yield return ("accounting-response", [3, .. Build(RadiusCode.AccountingResponse, false, w => w)]);
        var hostile = Build(RadiusCode.AccessAccept, true, w => w);
        hostile[RadiusPacket.HeaderLength + 1] = 250;
        yield return ("attribute-past-end", [0, .. hostile]);
        yield return ("short-header", [0, 2, 1, 0, 20, 0, 0]);
    }

    private delegate RadiusWriter Fill(RadiusWriter writer);

    private static byte[] Build(RadiusCode code, bool withMac, Fill fill)
    {
        var buffer = new byte[RadiusPacket.MaxLength];
        var writer = new RadiusWriter(buffer, code, 1, RequestAuthenticator);
        if (withMac) writer.TryAdd(RadiusAttributeType.MessageAuthenticator, new byte[RadiusAuthenticator.Length]);
        writer = fill(writer);
        return buffer.AsSpan(0, writer.Finish()).ToArray();
    }

    private static byte[] Mppe(byte type)
    {
        var key = new byte[32];
        key.AsSpan().Fill(type);
        byte[] salt = [0x80, type];
        var encrypted = MsMppeKey.Encrypt(key, salt, RequestAuthenticator, Secret);
        var value = new byte[8 + encrypted.Length];
        value[2] = 0x01;
        value[3] = 0x37;
        value[4] = type;
        value[5] = (byte)(4 + encrypted.Length);
        salt.CopyTo(value, 6);
        encrypted.CopyTo(value, 8);
        return value;
    }
}

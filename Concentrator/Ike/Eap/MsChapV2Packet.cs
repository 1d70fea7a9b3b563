using System.Buffers.Binary;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Eap;

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Code      |   Identifier  |            Length             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Type (26)    |   OpCode      |  MS-CHAPv2-ID |  MS-Length...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   MS-Length   |  Value-Size   |  Value ... (Challenge: 16 octets; Response: 49) | Name ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   draft-kamath-pppext-eap-mschapv2-02 §2. MS-Length is the EAP Length minus 5. Challenge and Response carry
//   Value-Size, Value and Name; Success and Failure Requests carry a message after MS-Length; the peer's Success and
//   Failure Responses are the OpCode alone. Response Value (RFC 2759 §4): Peer-Challenge (16), Reserved (8, zero),
//   NT-Response (24), Flags (1, zero).

/// <summary>MS-CHAPv2 OpCodes (draft-kamath-pppext-eap-mschapv2 §2).</summary>
public enum MsChapV2OpCode : byte
{
    Challenge = 1,
    Response = 2,
    Success = 3,
    Failure = 4,
    ChangePassword = 7,
}

/// <summary>The type data of an EAP-MSCHAPv2 packet (after the EAP Type octet), read in place; never throws.</summary>
public readonly ref struct MsChapV2Packet
{
    public const int ChallengeLength = 16;
    public const int ResponseValueLength = 49;
    public const int NtResponseLength = 24;
    // OpCode, MS-CHAPv2-ID, MS-Length.
    private const int Header = 4;
    private const int MaxNameLength = 255;

    public MsChapV2OpCode OpCode { get; init; }
    public byte MsChapId { get; init; }
    public ReadOnlySpan<byte> PeerChallenge { get; init; }
    public ReadOnlySpan<byte> NtResponse { get; init; }
    public ReadOnlySpan<byte> Name { get; init; }

    /// <summary>
    /// A peer's packet: a Response (its MS-Length, Value-Size 49 and a name of at most 255 octets checked), or a Success or
    /// Failure Response (the OpCode alone). Anything else from a peer is InvalidSyntax.
    /// </summary>
    public static ParseStatus TryParseResponse(ReadOnlySpan<byte> typeData, out MsChapV2Packet packet)
    {
        packet = default;
        var r = new SpanReader(typeData);
        if (!r.TryReadUInt8(out byte opCode)) return ParseStatus.Truncated;
        if (opCode is (byte)MsChapV2OpCode.Success or (byte)MsChapV2OpCode.Failure)
        {
            packet = new MsChapV2Packet { OpCode = (MsChapV2OpCode)opCode };
            return ParseStatus.Ok;
        }
        if (opCode != (byte)MsChapV2OpCode.Response) return ParseStatus.InvalidSyntax;
        if (!r.TryReadUInt8(out byte id) || !r.TryReadUInt16(out ushort msLength) || !r.TryReadUInt8(out byte valueSize)) return ParseStatus.Truncated;
        // MS-Length counts from the OpCode: the EAP Length minus the 4-octet EAP header and the Type octet.
        if (msLength != typeData.Length) return ParseStatus.BadLength;
        if (valueSize != ResponseValueLength) return ParseStatus.BadLength;
        if (!r.TryReadBytes(ChallengeLength, out var peerChallenge) || !r.TrySkip(8) || !r.TryReadBytes(NtResponseLength, out var ntResponse) ||
            !r.TrySkip(1))
        {
            return ParseStatus.Truncated;
        }
        if (r.Remaining > MaxNameLength) return ParseStatus.BadLength;
        r.TryReadBytes(r.Remaining, out var name);
        packet = new MsChapV2Packet { OpCode = MsChapV2OpCode.Response, MsChapId = id, PeerChallenge = peerChallenge, NtResponse = ntResponse, Name = name };
        return ParseStatus.Ok;
    }

    /// <summary>The type data of our Challenge Request: Value-Size 16, the challenge, our name.</summary>
    public static byte[] Challenge(byte msChapId, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> name)
    {
        var data = new byte[Header + 1 + ChallengeLength + name.Length];
        data[0] = (byte)MsChapV2OpCode.Challenge;
        data[1] = msChapId;
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2), (ushort)data.Length);
        data[4] = ChallengeLength;
        challenge.CopyTo(data.AsSpan(5));
        name.CopyTo(data.AsSpan(5 + ChallengeLength));
        return data;
    }

    /// <summary>The type data of a Success or Failure Request: the OpCode, ID, MS-Length and the message.</summary>
    public static byte[] WithMessage(MsChapV2OpCode opCode, byte msChapId, ReadOnlySpan<byte> message)
    {
        var data = new byte[Header + message.Length];
        data[0] = (byte)opCode;
        data[1] = msChapId;
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2), (ushort)data.Length);
        message.CopyTo(data.AsSpan(Header));
        return data;
    }
}

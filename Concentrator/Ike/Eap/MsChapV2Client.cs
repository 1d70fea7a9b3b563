using System.Security.Cryptography;
using System.Text;
using Concentrator.Ike.Connections;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Eap;

/// <summary>What the EAP client does after a request of the server.</summary>
public enum EapClientStep
{
    /// <summary>Send <see cref="MsChapV2Client.Response"/>.</summary>
    Respond = 0,
    /// <summary>EAP-Success after the server proved it knows the password: <see cref="MsChapV2Client.TakeMsk"/> holds the MSK.</summary>
    Succeeded,
    /// <summary>EAP-Failure, a server that did not prove the password, or a malformed or unexpected packet.</summary>
    Failed,
}

/// <summary>
/// EAP-MSCHAPv2 as the peer (our initiator's local round auth eap-mschapv2, as strongSwan's eap_mschapv2 client):
/// EAP-Identity answered with our EAP identity, the Challenge answered with the NT-Response (RFC 2759 §8.1), the Success
/// Request's authenticator response checked before the Success Response (RFC 2759 §5: the server proves the password
/// too), then EAP-Success. Any other method is answered with a Nak for MSCHAPv2 (RFC 3748 §5.3.1). The password and the
/// MSK are zeroed on <see cref="Dispose"/>.
/// </summary>
public sealed class MsChapV2Client(Identity identity, byte[] password) : IDisposable
{
    private readonly byte[] _name = Encoding.UTF8.GetBytes(identity.Text);
    private readonly byte[] _hash = MsChapV2.NtPasswordHash(password);
    private byte[]? _expectedAuthenticator;
    private byte[]? _msk;
    private bool _provedServer;

    /// <summary>The EAP Response to send after <see cref="EapClientStep.Respond"/>.</summary>
    public byte[] Response { get; private set; } = [];

    /// <summary>Why the conversation failed (for the log; never the password).</summary>
    public string FailureDetail { get; private set; } = "";

    public EapClientStep Process(ReadOnlySpan<byte> request)
    {
        var status = EapPacket.TryParse(request, out var packet);
        if (status != ParseStatus.Ok) return Fail($"malformed EAP message ({status})");
        switch (packet.Code)
        {
            case EapCode.Success:
                return _provedServer && _msk is not null ? EapClientStep.Succeeded : Fail("EAP-Success before MS-CHAPv2 succeeded");
            case EapCode.Failure:
                return Fail("the server sent EAP-Failure");
            case EapCode.Request:
                break;
            default:
                return Fail($"unexpected EAP {packet.Code}");
        }
        switch (packet.Type)
        {
            case EapType.Identity:
                return Respond(packet.Identifier, EapType.Identity, _name);
            case EapType.MsChapV2:
                return OnMsChapV2(packet.Identifier, packet.TypeData);
            case EapType.Notification:
                return Respond(packet.Identifier, EapType.Notification, []);
            default:
                return Respond(packet.Identifier, EapType.Nak, [(byte)EapType.MsChapV2]);
        }
    }

    /// <summary>The MSK after <see cref="EapClientStep.Succeeded"/>; the caller owns and zeroes it.</summary>
    public byte[]? TakeMsk()
    {
        var msk = _msk;
        _msk = null;
        return msk;
    }

    private EapClientStep OnMsChapV2(byte identifier, ReadOnlySpan<byte> data)
    {
        if (data.Length < 4) return Fail("MS-CHAPv2 request too short");
        var opCode = (MsChapV2OpCode)data[0];
        byte msChapId = data[1];
        switch (opCode)
        {
            case MsChapV2OpCode.Challenge when data.Length >= 5 + MsChapV2Packet.ChallengeLength && data[4] == MsChapV2Packet.ChallengeLength:
                var authChallenge = data.Slice(5, MsChapV2Packet.ChallengeLength);
                var peerChallenge = RandomNumberGenerator.GetBytes(MsChapV2Packet.ChallengeLength);
                var ntResponse = MsChapV2.NtResponse(authChallenge, peerChallenge, _name, _hash);
                _expectedAuthenticator = Encoding.ASCII.GetBytes(MsChapV2.AuthenticatorResponse(_hash, ntResponse, peerChallenge, authChallenge, _name));
                if (_msk is not null) CryptographicOperations.ZeroMemory(_msk);
                _msk = MsChapV2.Msk(_hash, ntResponse);
                var value = new byte[4 + 1 + MsChapV2Packet.ResponseValueLength + _name.Length];
                value[0] = (byte)MsChapV2OpCode.Response;
                value[1] = msChapId;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(value.AsSpan(2), (ushort)value.Length);
                value[4] = MsChapV2Packet.ResponseValueLength;
                peerChallenge.CopyTo(value, 5);
                ntResponse.CopyTo(value, 5 + MsChapV2Packet.ChallengeLength + 8);
                _name.CopyTo(value, 5 + MsChapV2Packet.ResponseValueLength);
                return Respond(identifier, EapType.MsChapV2, value);
            case MsChapV2OpCode.Success when _expectedAuthenticator is { } expected:
                // "S=<40 hex digits>" first, then the server's message.
                var message = data[4..];
                if (message.Length < expected.Length || !CryptographicOperations.FixedTimeEquals(message[..expected.Length], expected))
                {
                    return Fail("the server's authenticator response is wrong (it does not know the password)");
                }
                _provedServer = true;
                return Respond(identifier, EapType.MsChapV2, [(byte)MsChapV2OpCode.Success]);
            case MsChapV2OpCode.Failure:
                return Fail("MS-CHAPv2 Failure: " + Encoding.ASCII.GetString(data[4..]).Split(' ')[0]);
            default:
                return Fail($"unexpected MS-CHAPv2 {opCode}");
        }
    }

    private EapClientStep Respond(byte identifier, EapType type, ReadOnlySpan<byte> data)
    {
        Response = EapPacket.Build(EapCode.Response, identifier, type, data);
        return EapClientStep.Respond;
    }

    private EapClientStep Fail(string detail)
    {
        FailureDetail = detail;
        Dispose();
        return EapClientStep.Failed;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_hash);
        CryptographicOperations.ZeroMemory(password);
        if (_msk is not null) CryptographicOperations.ZeroMemory(_msk);
        _msk = null;
    }
}

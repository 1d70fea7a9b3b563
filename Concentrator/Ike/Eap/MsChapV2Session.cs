using System.Security.Cryptography;
using System.Text;
using Concentrator.Ike.Connections;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Eap;

/// <summary>
/// EAP-MSCHAPv2 served by the gateway (draft-kamath-pppext-eap-mschapv2, RFC 2759) against the EAP secrets
/// (swanctl secrets.eap&lt;suffix&gt;), as strongSwan's eap_mschapv2 server: [EAP-Identity →] Challenge → the peer's
/// Response, checked with the password of the name it carries → Success Request with the authenticator response → the
/// peer's Success Response → EAP-Success with the MSK. A wrong password or an unknown user ends in EAP-Failure at once
/// (strongSwan's answer once its retries are spent; the same for both, so the answer does not tell users apart); a Nak,
/// an unexpected or malformed packet too. Synchronous: every step completes before it returns.
/// </summary>
public sealed class MsChapV2Session : IEapSession
{
    private const int MaxIdentityLength = 255;
    private static readonly byte[] ServerName = "Concentrator"u8.ToArray();
    private static readonly byte[] SuccessMessage = " M=Welcome"u8.ToArray();

    private enum Phase { New, AwaitingIdentity, AwaitingResponse, AwaitingSuccess, Ended }

    private readonly Func<Identity, byte[]?> _password;
    private readonly byte[] _challenge = RandomNumberGenerator.GetBytes(MsChapV2Packet.ChallengeLength);
    private Phase _phase;
    private byte _identifier = (byte)RandomNumberGenerator.GetInt32(256);
    private byte _msChapId;
    private Identity? _user;
    private byte[]? _msk;

    /// <param name="password">The password of an EAP user (a copy this session zeroes), null when the user has none.</param>
    public MsChapV2Session(Func<Identity, byte[]?> password) => _password = password;

    public string Method => AuthConfig.EapMsChapV2;

    public ValueTask<EapResult> StartAsync(Identity ikeIdentity, Identity? eapId, CancellationToken cancellationToken)
    {
        if (_phase != Phase.New) return Fail("started twice");
        if (eapId is null)
        {
            _phase = Phase.AwaitingIdentity;
            return Continue(EapPacket.Build(EapCode.Request, ++_identifier, EapType.Identity, []));
        }
        return Challenge();
    }

    public ValueTask<EapResult> ProcessAsync(ReadOnlyMemory<byte> eapResponse, CancellationToken cancellationToken)
    {
        var status = EapPacket.TryParse(eapResponse.Span, out var packet);
        if (status != ParseStatus.Ok) return Fail($"malformed EAP message ({status})");
        if (packet.Code != EapCode.Response || packet.Identifier != _identifier) return Fail($"unexpected EAP {packet.Code} {packet.Identifier}");
        if (packet.Type == EapType.Nak) return Fail("the peer refused EAP-MSCHAPv2 (Nak)");
        switch (_phase)
        {
            case Phase.AwaitingIdentity when packet.Type == EapType.Identity:
                var text = packet.TypeData.Length is > 0 and <= MaxIdentityLength ? Encoding.UTF8.GetString(packet.TypeData) : null;
                if (text is null || text.Any(char.IsControl) || !Identity.TryParse(text, out var identity, out _) || identity!.IsAny)
                {
                    return Fail("EAP-Identity is not an identity");
                }
                _user = identity;
                return Challenge();
            case Phase.AwaitingResponse when packet.Type == EapType.MsChapV2:
                return OnResponse(packet.TypeData);
            case Phase.AwaitingSuccess when packet.Type == EapType.MsChapV2:
                var ack = MsChapV2Packet.TryParseResponse(packet.TypeData, out var success);
                if (ack != ParseStatus.Ok || success.OpCode != MsChapV2OpCode.Success) return Fail("the peer did not accept our authenticator response");
                _phase = Phase.Ended;
                var msk = _msk;
                _msk = null;
                return ValueTask.FromResult(new EapResult(EapResultKind.Success, EapPacket.Success(_identifier)) { Msk = msk, EapIdentity = _user });
            default:
                return Fail($"unexpected EAP {packet.Type} in {_phase}");
        }
    }

    private ValueTask<EapResult> Challenge()
    {
        _phase = Phase.AwaitingResponse;
        var data = MsChapV2Packet.Challenge(++_msChapId, _challenge, ServerName);
        return Continue(EapPacket.Build(EapCode.Request, ++_identifier, EapType.MsChapV2, data));
    }

    private ValueTask<EapResult> OnResponse(ReadOnlySpan<byte> typeData)
    {
        var status = MsChapV2Packet.TryParseResponse(typeData, out var response);
        if (status != ParseStatus.Ok) return Fail($"malformed MS-CHAPv2 Response ({status})");
        if (response.OpCode != MsChapV2OpCode.Response) return Fail($"the peer sent MS-CHAPv2 {response.OpCode}");
        // strongSwan checks the name the Response carries, which may differ from the EAP-Identity.
        var name = Encoding.UTF8.GetString(response.Name);
        if (name.Length == 0 || name.Any(char.IsControl) || !Identity.TryParse(name, out var user, out _) || user!.IsAny)
        {
            return Fail("MS-CHAPv2 name is not an identity");
        }
        var password = _password(user);
        if (password is null) return Fail($"no EAP secret for {user}");
        var hash = MsChapV2.NtPasswordHash(password);
        CryptographicOperations.ZeroMemory(password);
        try
        {
            var expected = MsChapV2.NtResponse(_challenge, response.PeerChallenge, response.Name, hash);
            bool match = CryptographicOperations.FixedTimeEquals(expected, response.NtResponse);
            if (!match) return Fail($"wrong password for {user}");
            var authenticator = MsChapV2.AuthenticatorResponse(hash, expected, response.PeerChallenge, _challenge, response.Name);
            _msk = MsChapV2.Msk(hash, expected);
            _user = user;
            _phase = Phase.AwaitingSuccess;
            var message = Encoding.ASCII.GetBytes(authenticator).Concat(SuccessMessage).ToArray();
            var data = MsChapV2Packet.WithMessage(MsChapV2OpCode.Success, response.MsChapId, message);
            return Continue(EapPacket.Build(EapCode.Request, ++_identifier, EapType.MsChapV2, data));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hash);
        }
    }

    private static ValueTask<EapResult> Continue(byte[] request) => ValueTask.FromResult(new EapResult(EapResultKind.Continue, request));

    private ValueTask<EapResult> Fail(string detail)
    {
        _phase = Phase.Ended;
        Dispose();
        return ValueTask.FromResult(new EapResult(EapResultKind.Failure, EapPacket.Failure(_identifier)) { FailureDetail = detail });
    }

    public void Dispose()
    {
        if (_msk is not null) CryptographicOperations.ZeroMemory(_msk);
        _msk = null;
        CryptographicOperations.ZeroMemory(_challenge);
    }
}

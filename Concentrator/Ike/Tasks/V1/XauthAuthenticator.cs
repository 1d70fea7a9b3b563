using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// The XAUTH variants of the phase 1 methods (draft-beaulieu-ike-xauth §3.3: XAUTHInitPreShared 65001, XAUTHInitRSA
/// 65005) on a connection with an XAUTH round: phase 1 authenticates exactly as the base method's authenticator does
/// (PSK here; RSA signatures when an authenticator for them is registered), then <see cref="TransactionExchange"/> runs
/// XAUTH. The client, as initiator, is the XAUTH client; the Resp variants (we the XAUTH client) are not accepted.
/// A connection with an XAUTH round runs it whatever method the client proposed, so proposing plain PSK skips nothing.
/// </summary>
public sealed class XauthAuthenticator(Phase1AuthMethod xauthMethod, Phase1AuthMethod baseMethod) : IV1Authenticator
{
    private IV1Authenticator? Base(ConnectionConfig connection) => V1Authenticators.For(connection, baseMethod);

    public bool Fits(ConnectionConfig connection, Phase1AuthMethod method) =>
        method == xauthMethod && connection.RemoteXauth is not null && Base(connection) is not null;

    public byte[]? Skeyid(IkeV1Sa sa, ConnectionConfig connection, ReadOnlySpan<byte> gxy) => Base(connection)?.Skeyid(sa, connection, gxy);

    public void AddToKeyExchange(IkeV1Sa sa, List<V1Payload> payloads) => Base(sa.Connection!)?.AddToKeyExchange(sa, payloads);

    public void BuildProof(IkeV1Sa sa, ReadOnlySpan<byte> ownIdBody, List<V1Payload> payloads) => Base(sa.Connection!)!.BuildProof(sa, ownIdBody, payloads);

    public bool VerifyProof(IkeV1Sa sa, ReadOnlySpan<byte> peerIdBody, IReadOnlyList<V1Payload> payloads, out AuthFailure failure)
    {
        if (Base(sa.Connection!) is { } auth) return auth.VerifyProof(sa, peerIdBody, payloads, out failure);
        failure = AuthFailure.UnsupportedMethod;
        return false;
    }
}

/// <summary>v1core's slot: the XAUTH variants of PSK and RSA signatures.</summary>
public static partial class V1Authenticators
{
    static partial void AddXauth(List<IV1Authenticator> all)
    {
        all.Add(new XauthAuthenticator(Phase1AuthMethod.XauthInitPreShared, Phase1AuthMethod.PreSharedKey));
        all.Add(new XauthAuthenticator(Phase1AuthMethod.XauthInitRsa, Phase1AuthMethod.RsaSignature));
    }
}

using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// How phase 1 authenticates for one family of RFC 2409 authentication methods (PSK here; signatures with CERT and CR
/// from v1auth). Main mode (and aggressive mode) call it at fixed points: SKEYID once both nonces and g^xy are known,
/// extra payloads in the KE messages (3/4: CR), our proof after our ID (5/6), and the check of the peer's.
/// </summary>
public interface IV1Authenticator
{
    /// <summary>Whether this authenticator serves <paramref name="method"/> for <paramref name="connection"/> (its local and
    /// remote auth rounds); a responder accepts only transforms some authenticator fits.</summary>
    bool Fits(ConnectionConfig connection, Phase1AuthMethod method);

    /// <summary>SKEYID (RFC 2409 §5) for <paramref name="connection"/>; null when no key is configured (the SA fails).</summary>
    byte[]? Skeyid(IkeV1Sa sa, ConnectionConfig connection, ReadOnlySpan<byte> gxy);

    /// <summary>Payloads after KE and nonce in messages 3 and 4 (a CR). None by default.</summary>
    void AddToKeyExchange(IkeV1Sa sa, List<V1Payload> payloads) { }

    /// <summary>v1auth: the peer's KE message (main mode 3/4, aggressive mode 1/2), for its CR. Nothing by default.</summary>
    void ProcessKeyExchange(IkeV1Sa sa, IReadOnlyList<V1Payload> payloads) { }

    /// <summary>Our proof after our ID (HASH_I or HASH_R; [CERT] SIG) over <paramref name="ownIdBody"/>.</summary>
    void BuildProof(IkeV1Sa sa, ReadOnlySpan<byte> ownIdBody, List<V1Payload> payloads);

    /// <summary>Checks the peer's proof over its ID body; false: AUTHENTICATION-FAILED (the caller counts and closes).</summary>
    bool VerifyProof(IkeV1Sa sa, ReadOnlySpan<byte> peerIdBody, IReadOnlyList<V1Payload> payloads, out AuthFailure failure);
}

/// <summary>
/// The authenticators and what a connection proposes. PSK is registered here; others add themselves from their own
/// files through the partial methods (see <see cref="V1Exchanges"/> for the pattern).
/// </summary>
public static partial class V1Authenticators
{
    private static readonly List<IV1Authenticator> All = Build();

    /// <summary>The authenticator serving <paramref name="method"/> for <paramref name="connection"/>; null when none does.</summary>
    public static IV1Authenticator? For(ConnectionConfig connection, Phase1AuthMethod method)
    {
        foreach (var a in All)
        {
            if (a.Fits(connection, method)) return a;
        }
        return null;
    }

    /// <summary>The authentication method an initiator of <paramref name="connection"/> proposes (PSK unless a hook says otherwise).</summary>
    public static Phase1AuthMethod ProposedMethod(ConnectionConfig connection)
    {
        var method = Phase1AuthMethod.PreSharedKey;
        ChooseMethod(connection, ref method);
        return method;
    }

    /// <summary>v1auth (RSA/ECDSA signatures) and v1ra (XAuthInitPreShared) choose the method a connection proposes.</summary>
    static partial void ChooseMethod(ConnectionConfig connection, ref Phase1AuthMethod method);

    /// <summary>v1auth: signature authenticators.</summary>
    static partial void AddSignatures(List<IV1Authenticator> all);

    /// <summary>v1ra: XAUTH variants of PSK (65001/65002), which authenticate phase 1 as PSK and run an XAUTH round after it.</summary>
    static partial void AddXauth(List<IV1Authenticator> all);

    private static List<IV1Authenticator> Build()
    {
        var all = new List<IV1Authenticator> { PskAuthenticator.Instance };
        AddSignatures(all);
        AddXauth(all);
        return all;
    }
}

/// <summary>Pre-shared keys (RFC 2409 §5: SKEYID = prf(PSK, Ni_b | Nr_b); HASH_I/HASH_R as the proof).</summary>
public sealed class PskAuthenticator : IV1Authenticator
{
    public static readonly PskAuthenticator Instance = new();

    public bool Fits(ConnectionConfig connection, Phase1AuthMethod method) =>
        method == Phase1AuthMethod.PreSharedKey && connection.Local.Auth == AuthConfig.Psk && connection.Remote.Auth == AuthConfig.Psk;

    /// <summary>
    /// The key of our identity and the peer's as configured; with a remote identity of %any (the ID is encrypted under
    /// this very key, RFC 2409 §5.4) the peer's address stands in for it, as strongSwan looks it up.
    /// </summary>
    public byte[]? Skeyid(IkeV1Sa sa, ConnectionConfig connection, ReadOnlySpan<byte> gxy)
    {
        var local = V1Identities.Local(sa, connection);
        var remote = connection.Remote.Identity;
        var resolver = sa.Context.Resolver;
        byte[]? psk = remote.IsAny
            ? resolver.FindSharedKey(local, Identity.FromAddress(sa.RemoteEndpoint.Address)) ?? resolver.FindSharedKey(local, remote)
            : resolver.FindSharedKey(local, remote);
        if (psk is null) return null;
        var p1 = sa.Phase1!;
        byte[] skeyid = V1KeyDerivation.SkeyidPsk(sa.Prf!, psk, p1.Ni, p1.Nr);
        CryptographicOperations.ZeroMemory(psk);
        return skeyid;
    }

    public void BuildProof(IkeV1Sa sa, ReadOnlySpan<byte> ownIdBody, List<V1Payload> payloads) =>
        payloads.Add(new V1DataPayload(V1PayloadType.Hash, sa.Phase1!.Hash(sa, sa.IsInitiator, ownIdBody)));

    public bool VerifyProof(IkeV1Sa sa, ReadOnlySpan<byte> peerIdBody, IReadOnlyList<V1Payload> payloads, out AuthFailure failure)
    {
        failure = AuthFailure.PskMismatch;
        var hash = payloads.OfType<V1DataPayload>().FirstOrDefault(p => p.Type == V1PayloadType.Hash);
        if (hash is null) return false;
        byte[] expected = sa.Phase1!.Hash(sa, !sa.IsInitiator, peerIdBody);
        return CryptographicOperations.FixedTimeEquals(expected, hash.Data);
    }
}

/// <summary>Phase 1 identities: ours from the connection (our address when it is %any, as strongSwan), the peer's from its ID payload.</summary>
public static class V1Identities
{
    public static Identity Local(IkeV1Sa sa, ConnectionConfig connection) =>
        connection.Local.Identity is { IsAny: false } id ? id : Identity.FromAddress(Unmap(sa.LocalEndpoint.Address));

    /// <summary>The ID payload of an identity (its type numbers are IKEv2's, which RFC 2407 §4.6.2.1 shares for these types).</summary>
    public static V1IdPayload ToPayload(Identity id) => new((V1IdType)(byte)id.Type, id.Data);

    /// <summary>The identity a phase 1 ID payload names; null for the types that name no peer (subnets, ranges).</summary>
    public static Identity? FromPayload(V1IdPayload id) => id.IdType switch
    {
        V1IdType.Ipv4Address or V1IdType.Ipv6Address or V1IdType.Fqdn or V1IdType.UserFqdn or V1IdType.DerAsn1Dn or V1IdType.DerAsn1Gn
            or V1IdType.KeyId => Identity.FromPayload(new Wire.IdPayload(Wire.PayloadType.IdInitiator, (Wire.IdType)(byte)id.IdType, id.Data)),
        _ => null,
    };

    /// <summary>The ID body as HASH_I/HASH_R cover it (RFC 2409 §5: IDii_b, without the generic header).</summary>
    public static byte[] Body(V1IdPayload id)
    {
        var buffer = new byte[id.BodyLength];
        var w = new Wire.SpanWriter(buffer);
        id.WriteBody(ref w);
        return buffer;
    }

    private static System.Net.IPAddress Unmap(System.Net.IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}

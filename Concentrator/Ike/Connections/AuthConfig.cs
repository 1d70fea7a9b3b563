namespace Concentrator.Ike.Connections;

/// <summary>
/// One end's authentication round (swanctl local/remote section): psk or pubkey; a remote round also eap-mschapv2,
/// eap-radius or eap, a local one eap-mschapv2 (the loader refuses the other EAP methods). A pubkey round carries its credentials loaded, never
/// paths: ours (<see cref="Certificate"/>) or what the peer's must satisfy (<see cref="Trust"/>).
/// </summary>
public sealed class AuthConfig
{
    public const string Psk = "psk";
    public const string PubKey = "pubkey";
    /// <summary>strongSwan's generic eap: the method the server chooses, here eap-radius when the eap-radius plugin has
    /// servers configured and eap-mschapv2 against the local secrets otherwise (<see cref="Eap.EapSessionFactory"/>).</summary>
    public const string Eap = "eap";
    public const string EapMsChapV2 = "eap-mschapv2";
    public const string EapRadius = "eap-radius";
    /// <summary>IKEv1 XAUTH (a second remote round): strongSwan's xauth-generic, the password checked against the
    /// xauth&lt;suffix&gt; and eap&lt;suffix&gt; secrets.</summary>
    public const string Xauth = "xauth";

    private readonly string _id = Identity.Any;
    private readonly Identity _identity = Identity.AnyIdentity;

    /// <summary>psk, pubkey, or (remote) eap, eap-mschapv2, eap-radius.</summary>
    public string Auth { get; init; } = Psk;

    /// <summary>
    /// remote.eap_id: the identity the peer must prove by EAP. %any asks it with EAP-Identity; null (not configured)
    /// takes the peer's IKE identity, as strongSwan does. local.eap_id: the identity we log in with (null: our IKE identity).
    /// </summary>
    public Identity? EapId { get; init; }

    /// <summary>remote&lt;suffix&gt;.xauth_id of an XAUTH round: the user names accepted (null: any).</summary>
    public Identity? XauthId { get; init; }

    /// <summary>The identity as written, in strongSwan's notation; parsed once into <see cref="Identity"/> (invalid text throws).</summary>
    public string Id
    {
        get => _id;
        init
        {
            _id = value;
            _identity = Identity.Parse(value);
        }
    }

    /// <summary>
    /// The configured identity: ours (local) or the pattern a peer's must match (remote). A local pubkey round without an
    /// id is its certificate's subject DN, as in strongSwan.
    /// </summary>
    public Identity Identity => _identity.IsAny && Certificate is { } own ? own.Subject : _identity;

    /// <summary>Local pubkey: our certificate, intermediates and private key.</summary>
    public LocalCertificate? Certificate { get; init; }

    /// <summary>Local pubkey (auth rsa/pss): RSA signs with RSASSA-PSS where RFC 7427 is spoken, else PKCS#1 v1.5.</summary>
    public bool RsaPss { get; init; }

    /// <summary>Remote pubkey: the CAs, pinned certificates and CRLs a peer's certificate is checked against.</summary>
    public PeerTrust? Trust { get; init; }

    public bool IsPubKey => Auth == PubKey;

    public bool IsEap => Auth.StartsWith(Eap, StringComparison.Ordinal);

    /// <summary>What a peer's IKE_AUTH asks for, as connection selection compares it: psk, pubkey, or eap for every EAP method.</summary>
    public string Class => IsEap ? Eap : Auth;
}

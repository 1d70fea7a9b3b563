namespace Concentrator.Ike.Connections;

/// <summary>
/// One end's authentication round (swanctl local/remote section): psk or pubkey (eap and eap-&lt;method&gt; are refused
/// by the loader until they are built). A pubkey round carries its credentials loaded, never paths: ours
/// (<see cref="Certificate"/>) or what the peer's must satisfy (<see cref="Trust"/>).
/// </summary>
public sealed class AuthConfig
{
    public const string Psk = "psk";
    public const string PubKey = "pubkey";

    private readonly string _id = Identity.Any;
    private readonly Identity _identity = Identity.AnyIdentity;

    /// <summary>psk or pubkey.</summary>
    public string Auth { get; init; } = Psk;

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
}

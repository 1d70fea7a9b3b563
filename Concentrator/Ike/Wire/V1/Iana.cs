namespace Concentrator.Ike.Wire.V1;

// IANA "Internet Security Association and Key Management Protocol (ISAKMP) Identifiers" and
// "IPsec DOI" registries: the values the IKEv1 codec names. Values not listed here are kept as
// their numbers (an enum cast); choosing among them is policy, not parsing.

/// <summary>ISAKMP Next Payload types (RFC 2408 §3.1; NAT-D and NAT-OA from RFC 3947 §3.2, §5.2).</summary>
public enum V1PayloadType : byte
{
    None = 0,
    SecurityAssociation = 1,
    Proposal = 2,
    Transform = 3,
    KeyExchange = 4,
    Identification = 5,
    Certificate = 6,
    CertificateRequest = 7,
    Hash = 8,
    Signature = 9,
    Nonce = 10,
    Notification = 11,
    Delete = 12,
    VendorId = 13,
    /// <summary>Mode Config / XAUTH attribute payload (draft-dukes-ike-mode-cfg §3.2).</summary>
    Attribute = 14,
    NatD = 20,
    NatOa = 21,
    /// <summary>NAT-D as numbered by draft-ietf-ipsec-nat-t-ike-02/03, still sent by peers that negotiated the drafts.</summary>
    NatDDraft = 130,
    /// <summary>NAT-OA of the same drafts.</summary>
    NatOaDraft = 131,
}

/// <summary>ISAKMP exchange types (RFC 2408 §3.1, RFC 2409 §5/§9, draft-dukes-ike-mode-cfg §3.1).</summary>
public enum V1ExchangeType : byte
{
    None = 0,
    Base = 1,
    /// <summary>Main mode.</summary>
    IdentityProtection = 2,
    AuthenticationOnly = 3,
    /// <summary>Aggressive mode.</summary>
    Aggressive = 4,
    Informational = 5,
    /// <summary>Mode Config and XAUTH.</summary>
    Transaction = 6,
    QuickMode = 32,
    NewGroupMode = 33,
}

/// <summary>ISAKMP header flags (RFC 2408 §3.1).</summary>
[Flags]
public enum V1Flags : byte
{
    None = 0,
    /// <summary>E: the payloads after the header are encrypted (RFC 2409 Appendix B).</summary>
    Encryption = 0x01,
    /// <summary>C: commit bit (RFC 2408 §3.1); ignored safely, never set by us.</summary>
    Commit = 0x02,
    /// <summary>A: authentication only (RFC 2408 §3.1).</summary>
    AuthenticationOnly = 0x04,
}

/// <summary>Domain of Interpretation (RFC 2408 §3.4, RFC 2407 §4.2).</summary>
public enum Doi : uint
{
    Isakmp = 0,
    Ipsec = 1,
}

/// <summary>IPsec DOI situation bits (RFC 2407 §4.2).</summary>
[Flags]
public enum Situation : uint
{
    IdentityOnly = 0x01,
    Secrecy = 0x02,
    Integrity = 0x04,
}

/// <summary>Protocol identifiers of the IPsec DOI (RFC 2407 §4.4.1).</summary>
public enum V1ProtocolId : byte
{
    None = 0,
    Isakmp = 1,
    Ah = 2,
    Esp = 3,
    IpComp = 4,
}

/// <summary>ISAKMP transform identifiers (RFC 2407 §4.4.2): KEY_IKE is the only one for phase 1.</summary>
public enum IsakmpTransformId : byte
{
    KeyIke = 1,
}

/// <summary>IPsec ESP transform identifiers (RFC 2407 §4.4.4, IANA "IPsec ESP Transform Identifiers").</summary>
public enum EspTransformId : byte
{
    Des = 2,
    TripleDes = 3,
    Null = 11,
    AesCbc = 12,
    AesCtr = 13,
    AesCcm8 = 14,
    AesCcm12 = 15,
    AesCcm16 = 16,
    AesGcm8 = 18,
    AesGcm12 = 19,
    AesGcm16 = 20,
}

/// <summary>Phase 1 attribute classes (RFC 2409 Appendix A).</summary>
public enum Phase1AttributeType : ushort
{
    EncryptionAlgorithm = 1,
    HashAlgorithm = 2,
    AuthenticationMethod = 3,
    GroupDescription = 4,
    GroupType = 5,
    GroupPrime = 6,
    GroupGeneratorOne = 7,
    GroupGeneratorTwo = 8,
    GroupCurveA = 9,
    GroupCurveB = 10,
    LifeType = 11,
    LifeDuration = 12,
    Prf = 13,
    KeyLength = 14,
    FieldSize = 15,
    GroupOrder = 16,
}

/// <summary>Phase 1 encryption algorithms (RFC 2409 Appendix A; AES-CBC from RFC 3602 §5).</summary>
public enum Phase1Encryption : ushort
{
    DesCbc = 1,
    Idea = 2,
    Blowfish = 3,
    Rc5 = 4,
    TripleDesCbc = 5,
    Cast = 6,
    AesCbc = 7,
    Camellia = 8,
}

/// <summary>Phase 1 hash algorithms (RFC 2409 Appendix A; SHA-2 from RFC 4868 §2.1 registrations).</summary>
public enum Phase1Hash : ushort
{
    Md5 = 1,
    Sha1 = 2,
    Tiger = 3,
    Sha2_256 = 4,
    Sha2_384 = 5,
    Sha2_512 = 6,
}

/// <summary>Phase 1 authentication methods (RFC 2409 Appendix A, RFC 4754, draft-beaulieu-ike-xauth §3.3).</summary>
public enum Phase1AuthMethod : ushort
{
    PreSharedKey = 1,
    DssSignature = 2,
    RsaSignature = 3,
    RsaEncryption = 4,
    RsaRevisedEncryption = 5,
    EcdsaSha256 = 9,
    EcdsaSha384 = 10,
    EcdsaSha512 = 11,
    XauthInitPreShared = 65001,
    XauthRespPreShared = 65002,
    XauthInitDss = 65003,
    XauthRespDss = 65004,
    XauthInitRsa = 65005,
    XauthRespRsa = 65006,
    HybridInitRsa = 64221,
    HybridRespRsa = 64222,
}

/// <summary>Life types of phase 1 (RFC 2409 Appendix A) and of phase 2 (RFC 2407 §4.5): the same values.</summary>
public enum LifeType : ushort
{
    Seconds = 1,
    Kilobytes = 2,
}

/// <summary>IPsec SA attribute classes of phase 2 (RFC 2407 §4.5).</summary>
public enum Phase2AttributeType : ushort
{
    SaLifeType = 1,
    SaLifeDuration = 2,
    GroupDescription = 3,
    EncapsulationMode = 4,
    AuthenticationAlgorithm = 5,
    KeyLength = 6,
    KeyRounds = 7,
    CompressDictionarySize = 8,
    CompressPrivateAlgorithm = 9,
}

/// <summary>Encapsulation modes (RFC 2407 §4.5; UDP modes RFC 3947 §6, draft numbers from draft-ietf-ipsec-nat-t-ike).</summary>
public enum EncapsulationMode : ushort
{
    Tunnel = 1,
    Transport = 2,
    UdpTunnel = 3,
    UdpTransport = 4,
    UdpTunnelDraft = 61443,
    UdpTransportDraft = 61444,
}

/// <summary>Phase 2 authentication algorithms (RFC 2407 §4.5, RFC 4868 §2.4 for SHA-2).</summary>
public enum Phase2AuthAlgorithm : ushort
{
    HmacMd5 = 1,
    HmacSha1 = 2,
    DesMac = 3,
    Kpdk = 4,
    HmacSha2_256 = 5,
    HmacSha2_384 = 6,
    HmacSha2_512 = 7,
    AesXcbcMac = 9,
}

/// <summary>Identification types of the IPsec DOI (RFC 2407 §4.6.2.1).</summary>
public enum V1IdType : byte
{
    Ipv4Address = 1,
    Fqdn = 2,
    UserFqdn = 3,
    Ipv4Subnet = 4,
    Ipv6Address = 5,
    Ipv6Subnet = 6,
    Ipv4Range = 7,
    Ipv6Range = 8,
    DerAsn1Dn = 9,
    DerAsn1Gn = 10,
    KeyId = 11,
}

/// <summary>Certificate encodings (RFC 2408 §3.9).</summary>
public enum V1CertEncoding : byte
{
    Pkcs7 = 1,
    Pgp = 2,
    DnsSignedKey = 3,
    X509Signature = 4,
    X509KeyExchange = 5,
    Kerberos = 6,
    Crl = 7,
    Arl = 8,
    Spki = 9,
    X509Attribute = 10,
}

/// <summary>
/// Notify message types: RFC 2408 §3.14.1 (errors 1..30, CONNECTED), RFC 2407 §4.6.3 (IPsec DOI status),
/// RFC 3706 §5 (DPD).
/// </summary>
public enum V1NotifyType : ushort
{
    InvalidPayloadType = 1,
    DoiNotSupported = 2,
    SituationNotSupported = 3,
    InvalidCookie = 4,
    InvalidMajorVersion = 5,
    InvalidMinorVersion = 6,
    InvalidExchangeType = 7,
    InvalidFlags = 8,
    InvalidMessageId = 9,
    InvalidProtocolId = 10,
    InvalidSpi = 11,
    InvalidTransformId = 12,
    AttributesNotSupported = 13,
    NoProposalChosen = 14,
    BadProposalSyntax = 15,
    PayloadMalformed = 16,
    InvalidKeyInformation = 17,
    InvalidIdInformation = 18,
    InvalidCertEncoding = 19,
    InvalidCertificate = 20,
    CertTypeUnsupported = 21,
    InvalidCertAuthority = 22,
    InvalidHashInformation = 23,
    AuthenticationFailed = 24,
    InvalidSignature = 25,
    AddressNotification = 26,
    NotifySaLifetime = 27,
    CertificateUnavailable = 28,
    UnsupportedExchangeType = 29,
    UnequalPayloadLengths = 30,
    Connected = 16384,
    ResponderLifetime = 24576,
    ReplayStatus = 24577,
    InitialContact = 24578,
    DpdRUThere = 36136,
    DpdRUThereAck = 36137,
}

/// <summary>Attribute payload message types (draft-dukes-ike-mode-cfg §3.2).</summary>
public enum CfgMessageType : byte
{
    Request = 1,
    Reply = 2,
    Set = 3,
    Ack = 4,
}

/// <summary>
/// Mode Config attributes (draft-dukes-ike-mode-cfg §3.3, the IKEv2 CP numbers) and XAUTH attributes
/// (draft-beaulieu-ike-xauth §2.4).
/// </summary>
public enum CfgAttributeType : ushort
{
    InternalIp4Address = 1,
    InternalIp4Netmask = 2,
    InternalIp4Dns = 3,
    InternalIp4Nbns = 4,
    InternalAddressExpiry = 5,
    InternalIp4Dhcp = 6,
    ApplicationVersion = 7,
    InternalIp6Address = 8,
    InternalIp6Netmask = 9,
    InternalIp6Dns = 10,
    InternalIp6Nbns = 11,
    InternalIp6Dhcp = 12,
    InternalIp4Subnet = 13,
    SupportedAttributes = 14,
    InternalIp6Subnet = 15,
    XauthType = 16520,
    XauthUserName = 16521,
    XauthUserPassword = 16522,
    XauthPasscode = 16523,
    XauthMessage = 16524,
    XauthChallenge = 16525,
    XauthDomain = 16526,
    XauthStatus = 16527,
    XauthNextPin = 16528,
    XauthAnswer = 16529,
}

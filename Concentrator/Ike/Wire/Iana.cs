namespace Concentrator.Ike.Wire;

// IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registries.
// Values are protocol facts; never renumber.

/// <summary>Next-payload types, RFC 7296 §3.2 (and RFC 7383 for SKF).</summary>
public enum PayloadType : byte
{
    None = 0,
    SecurityAssociation = 33,
    KeyExchange = 34,
    IdInitiator = 35,
    IdResponder = 36,
    Certificate = 37,
    CertificateRequest = 38,
    Authentication = 39,
    Nonce = 40,
    Notify = 41,
    Delete = 42,
    VendorId = 43,
    TsInitiator = 44,
    TsResponder = 45,
    Encrypted = 46,
    Configuration = 47,
    Eap = 48,
    EncryptedFragment = 53,
}

/// <summary>IKE header flags, RFC 7296 §3.1.</summary>
[Flags]
public enum IkeFlags : byte
{
    None = 0,
    Initiator = 0x08,
    Version = 0x10,
    Response = 0x20,
}

/// <summary>Security protocol identifiers, RFC 7296 §3.3.1.</summary>
public enum ProtocolId : byte
{
    None = 0,
    Ike = 1,
    Ah = 2,
    Esp = 3,
}

/// <summary>Transform types, RFC 7296 §3.3.2.</summary>
public enum TransformType : byte
{
    Encryption = 1,
    Prf = 2,
    Integrity = 3,
    DiffieHellman = 4,
    ExtendedSequenceNumbers = 5,
}

/// <summary>Transform attribute types, RFC 7296 §3.3.5.</summary>
public enum TransformAttributeType : ushort
{
    KeyLength = 14,
}

/// <summary>Identification types, RFC 7296 §3.5.</summary>
public enum IdType : byte
{
    Ipv4Address = 1,
    Fqdn = 2,
    Rfc822Address = 3,
    Ipv6Address = 5,
    DerAsn1Dn = 9,
    DerAsn1Gn = 10,
    KeyId = 11,
}

/// <summary>Authentication methods, RFC 7296 §3.8 and RFC 7427.</summary>
public enum AuthMethod : byte
{
    RsaDigitalSignature = 1,
    SharedKeyMic = 2,
    DssDigitalSignature = 3,
    EcdsaSha256P256 = 9,
    EcdsaSha384P384 = 10,
    EcdsaSha512P521 = 11,
    DigitalSignature = 14,
}

/// <summary>Notify message types, RFC 7296 §3.10.1 (errors below 16384, status above).</summary>
public enum NotifyType : ushort
{
    UnsupportedCriticalPayload = 1,
    InvalidIkeSpi = 4,
    InvalidMajorVersion = 5,
    InvalidSyntax = 7,
    InvalidMessageId = 9,
    InvalidSpi = 11,
    NoProposalChosen = 14,
    InvalidKePayload = 17,
    AuthenticationFailed = 24,
    SinglePairRequired = 34,
    NoAdditionalSas = 35,
    InternalAddressFailure = 36,
    FailedCpRequired = 37,
    TsUnacceptable = 38,
    InvalidSelectors = 39,
    /// <summary>RFC 4555 §4.1.1: the UPDATE_SA_ADDRESSES of the request was not carried out.</summary>
    UnacceptableAddresses = 40,
    /// <summary>RFC 4555 §4.1.2: the addresses of NO_NATS_ALLOWED are not those of the IP header.</summary>
    UnexpectedNatDetected = 41,
    TemporaryFailure = 43,
    ChildSaNotFound = 44,

    InitialContact = 16384,
    SetWindowSize = 16385,
    AdditionalTsPossible = 16386,
    IpcompSupported = 16387,
    NatDetectionSourceIp = 16388,
    NatDetectionDestinationIp = 16389,
    Cookie = 16390,
    UseTransportMode = 16391,
    HttpCertLookupSupported = 16392,
    RekeySa = 16393,
    EspTfcPaddingNotSupported = 16394,
    NonFirstFragmentsAlso = 16395,
    MobikeSupported = 16396,
    /// <summary>RFC 4555 §4.2.2: one more address of the sender (4 octets).</summary>
    AdditionalIp4Address = 16397,
    /// <summary>RFC 4555 §4.2.2: one more address of the sender (16 octets).</summary>
    AdditionalIp6Address = 16398,
    /// <summary>RFC 4555 §4.2.3: the sender has no address but the one in the IP header.</summary>
    NoAdditionalAddresses = 16399,
    /// <summary>RFC 4555 §4.2.4: move the IKE SA and its IPsec SAs to the addresses of this request's IP header.</summary>
    UpdateSaAddresses = 16400,
    /// <summary>RFC 4555 §4.2.5: 8 to 64 octets the responder copies into its response (return routability).</summary>
    Cookie2 = 16401,
    /// <summary>RFC 4555 §4.2.6: the addresses and ports the sender sent from and to (<see cref="NoNatsAllowed"/>).</summary>
    NoNatsAllowed = 16402,
    MultipleAuthSupported = 16404,
    AnotherAuthFollows = 16405,
    RedirectSupported = 16406,
    ChildlessIkev2Supported = 16418,
    IkeFragmentationSupported = 16430,
    SignatureHashAlgorithms = 16431,
}

/// <summary>Configuration payload types, RFC 7296 §3.15.</summary>
public enum ConfigType : byte
{
    Request = 1,
    Reply = 2,
    Set = 3,
    Ack = 4,
}

/// <summary>Configuration attribute types, RFC 7296 §3.15.1.</summary>
public enum ConfigAttributeType : ushort
{
    InternalIp4Address = 1,
    InternalIp4Netmask = 2,
    InternalIp4Dns = 3,
    InternalIp4Nbns = 4,
    InternalIp4Dhcp = 6,
    ApplicationVersion = 7,
    InternalIp6Address = 8,
    InternalIp6Dns = 10,
    InternalIp6Dhcp = 12,
    InternalIp4Subnet = 13,
    SupportedAttributes = 14,
    InternalIp6Subnet = 15,
    /// <summary>RFC 8598 Split DNS: a domain the initiator resolves through the tunnel's DNS servers.</summary>
    InternalDnsDomain = 25,
}

/// <summary>Certificate encodings, RFC 7296 §3.6.</summary>
public enum CertEncoding : byte
{
    Pkcs7WrappedX509 = 1,
    X509Signature = 4,
    Crl = 7,
    RawRsaKey = 11,
    HashAndUrlX509 = 12,
    HashAndUrlBundle = 13,
}

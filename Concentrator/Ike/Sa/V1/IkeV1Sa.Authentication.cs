namespace Concentrator.Ike.Sa.V1;

// What certificate authentication and aggressive mode keep on the SA during phase 1.
public sealed partial class IkeV1Sa
{
    /// <summary>The peer sent a CR for X.509 certificates (strongSwan's COND_CERTREQ_SEEN): send_cert ifasked sends ours.</summary>
    public bool PeerRequestedCertificate { get; internal set; }

    /// <summary>Why the last proof check failed, or whose certificate passed, for the log; never key material.</summary>
    public string? AuthDetail { get; internal set; }

    /// <summary>Aggressive mode: the peer's ID body from its first message (IDii_b or IDir_b), which its later proof covers.</summary>
    public byte[] PeerIdBody { get; internal set; } = [];
}

namespace Concentrator.Ipsec;

/// <summary>
/// Outcome of one ESP packet operation. The packet path reports every failure through this enum,
/// never through an exception (peer input must not be able to make us throw).
/// </summary>
public enum EspStatus : byte
{
    Ok = 0,
    /// <summary>Shorter than header + IV + minimal trailer + ICV (a runt).</summary>
    Truncated,
    /// <summary>Longer than the largest ESP packet the data plane accepts.</summary>
    Oversize,
    /// <summary>Ciphertext not a multiple of the cipher's block / 4-byte alignment (RFC 4303 §2.4).</summary>
    BadLength,
    /// <summary>No installed SA for the SPI (or the SA is being deleted).</summary>
    UnknownSpi,
    /// <summary>Duplicate or left of the replay window (RFC 4303 §3.4.3). Checked before decryption.</summary>
    Replay,
    /// <summary>ICV verification failed; the replay window was not touched.</summary>
    AuthFailed,
    /// <summary>Pad length exceeds the payload or the padding bytes are not 1, 2, 3, ... (RFC 4303 §2.4).</summary>
    BadPadding,
    /// <summary>Next header is neither 4 (IPv4) nor 41 (IPv6), or disagrees with the inner IP version.</summary>
    BadNextHeader,
    /// <summary>Next header 59: a dummy (TFC) packet, authenticated and silently dropped (RFC 4303 §2.6).</summary>
    Dummy,
    /// <summary>Without ESN the next sequence number would exceed 2^32-1; the SA must be rekeyed (RFC 4303 §3.3.3).</summary>
    SequenceExhausted,
    /// <summary>The destination span cannot hold the ESP packet.</summary>
    BufferTooSmall,
    /// <summary>The outbound inner packet is empty or is not IPv4/IPv6.</summary>
    BadInnerPacket,
    /// <summary>ESP for this SA arrived on the other transport (UDP vs protocol 50): its replay window belongs to another worker.</summary>
    WrongTransport,
    /// <summary>The decrypted inner packet is outside the SA's traffic selectors (RFC 4301 §5.2).</summary>
    TsMismatch,
    /// <summary>Outbound: no SA (and no trap policy) covers the inner packet.</summary>
    NoSa,
    /// <summary>
    /// Outbound: the next sequence number would pass the ceiling this node may use before its SA snapshot with a newer
    /// mark is replicated (cluster SA mobility). A node adopting the SA starts above the ceiling, so an AEAD IV (the
    /// sequence number) is never used twice under one key; sending resumes once the next snapshot goes out.
    /// </summary>
    SequenceCeiling,
    /// <summary>AH (RFC 4302): the ICV did not verify; the replay window was not touched.</summary>
    AhIcvFailed,
    /// <summary>AH: duplicate or left of the replay window (RFC 4302 §3.4.3).</summary>
    AhReplay,
    /// <summary>AH: an IPv4 option or IPv6 extension header before AH that the ICV computation does not classify (RFC 4302
    /// §3.3.3.1): dropped rather than guessed at.</summary>
    BadIpOption,
}

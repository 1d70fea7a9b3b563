namespace Concentrator.Ipsec;

/// <summary>
/// Outcome of decoding untrusted bytes. Parsing never throws; every non-Ok value is
/// counted by the caller (metrics label = the enum name in snake_case) and the datagram dropped,
/// or answered with INVALID_SYNTAX / UNSUPPORTED_CRITICAL_PAYLOAD where RFC 7296 asks for it.
/// </summary>
public enum ParseStatus
{
    Ok = 0,
    /// <summary>Fewer bytes than a fixed-size field needs.</summary>
    Truncated,
    /// <summary>A length field disagrees with the bytes present (too small, too large, or not matching).</summary>
    BadLength,
    /// <summary>Major version is not 2 (RFC 7296 §3.1: answer INVALID_MAJOR_VERSION).</summary>
    BadVersion,
    /// <summary>A value is out of its allowed range (unknown ID type, reserved bits, zero counts where one is required).</summary>
    InvalidSyntax,
    /// <summary>An unknown payload with the critical bit set (RFC 7296 §2.5).</summary>
    UnsupportedCriticalPayload,
    /// <summary>More proposals, transforms, selectors or attributes than the decoder accepts (<see cref="WireLimits"/>).</summary>
    TooManyItems,
    /// <summary>The payload sequence breaks the per-exchange rules (missing, duplicated or misplaced payload).</summary>
    BadPayloadSequence,
    /// <summary>The SK payload failed its integrity check or could not be decrypted.</summary>
    IntegrityCheckFailed,
    /// <summary>More payloads in one chain than charon.max_payloads allows.</summary>
    TooManyPayloads,
}

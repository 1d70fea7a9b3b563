using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Ocsp;
using Concentrator.Ipsec;
using BcCertificate = Org.BouncyCastle.X509.X509Certificate;
using BcCertificateParser = Org.BouncyCastle.X509.X509CertificateParser;

namespace Concentrator.Ike.Crypto;

/// <summary>
/// What one OCSP response says about one certificate, checked (<see cref="OcspMessages.Evaluate"/>). <paramref name="Pending"/>:
/// no answer yet, a request must be made first (the caller defers instead of waiting).
/// </summary>
public readonly record struct OcspAnswer(OcspOutcome Outcome, string Detail, DateTime? RevokedAtUtc = null, DateTime? NextUpdateUtc = null,
    bool Pending = false);

/// <summary>
/// OCSP (RFC 6960) requests and responses with BouncyCastle's Org.BouncyCastle.Ocsp (.NET has no OCSP types): one request
/// per certificate with a SHA-1 CertID (RFC 5019 §2.1.1, what every responder answers) and a nonce (RFC 8954); a response
/// is believed only when it is successful, signed by the issuer or by a responder certificate the issuer signed with
/// id-kp-OCSPSigning and valid now, answers our CertID, is current (thisUpdate/nextUpdate within <see cref="ClockSkew"/>)
/// and echoes our nonce if it carries one. No I/O. The response is hostile input: nothing here throws on its bytes.
/// </summary>
public static class OcspMessages
{
    /// <summary>Clock difference tolerated against thisUpdate and nextUpdate (openssl ocsp's -validity_period default).</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>A response without nextUpdate ("newer information is always available") must have been made this recently.</summary>
    public static readonly TimeSpan MaxAgeWithoutNextUpdate = TimeSpan.FromMinutes(5);

    public const int NonceLength = 16;
    private const string OcspSigningOid = "1.3.6.1.5.5.7.3.9";

    /// <summary>The DER OCSPRequest for <paramref name="certificate"/> issued by <paramref name="issuer"/>, with <paramref name="nonce"/>.</summary>
    public static byte[] BuildRequest(X509Certificate2 certificate, X509Certificate2 issuer, byte[] nonce)
    {
        var generator = new OcspReqGenerator();
        generator.AddRequest(CertId(certificate, issuer));
        var extensions = new X509ExtensionsGenerator();
        extensions.AddExtension(OcspObjectIdentifiers.PkixOcspNonce, false, new DerOctetString(nonce));
        generator.SetRequestExtensions(extensions.Generate());
        return generator.Generate().GetEncoded();
    }

    /// <summary>The CertID of RFC 6960 §4.1.1 with SHA-1, as requests carry it.</summary>
    public static CertificateID CertId(X509Certificate2 certificate, X509Certificate2 issuer) =>
        new(CertificateID.HashSha1, Parse(issuer), new BigInteger(1, certificate.SerialNumberBytes.ToArray()));

    /// <summary>
    /// Checks <paramref name="response"/> (DER OCSPResponse) for <paramref name="certificate"/> and <paramref name="issuer"/>:
    /// good, revoked (with the date) or unknown, or why it is not believed (malformed, bad_signature, stale,
    /// nonce_mismatch, responder_error).
    /// </summary>
    public static OcspAnswer Evaluate(byte[] response, X509Certificate2 certificate, X509Certificate2 issuer, byte[]? nonce, DateTime nowUtc)
    {
        try
        {
            return EvaluateParsed(response, certificate, issuer, nonce, nowUtc);
        }
        catch (Exception e) when (e is OcspException or IOException or ArgumentException or InvalidCastException or InvalidOperationException
                                      or FormatException or Asn1Exception or Org.BouncyCastle.Security.GeneralSecurityException
                                      or Org.BouncyCastle.Security.Certificates.CertificateException or Org.BouncyCastle.Crypto.CryptoException
                                      or IndexOutOfRangeException or NullReferenceException or CryptographicException)
        {
            return new(OcspOutcome.Malformed, $"not an OCSP response: {e.Message}");
        }
    }

    private static OcspAnswer EvaluateParsed(byte[] bytes, X509Certificate2 certificate, X509Certificate2 issuer, byte[]? nonce, DateTime nowUtc)
    {
        var response = new OcspResp(bytes);
        if (response.Status != OcspRespStatus.Successful) return new(OcspOutcome.ResponderError, $"responder status {response.Status}");
        if (response.GetResponseObject() is not BasicOcspResp basic) return new(OcspOutcome.Malformed, "not a basic OCSP response");

        var issuerBc = Parse(issuer);
        if (SignerProblem(basic, issuerBc, nowUtc) is { } signer) return new(OcspOutcome.BadSignature, signer);

        if (nonce is not null && basic.GetExtensionValue(OcspObjectIdentifiers.PkixOcspNonce) is { } echoed)
        {
            var value = Asn1Object.FromByteArray(echoed.GetOctets());
            byte[] received = value is Asn1OctetString inner ? inner.GetOctets() : echoed.GetOctets();
            if (!CryptographicOperations.FixedTimeEquals(received, nonce)) return new(OcspOutcome.NonceMismatch, "the response's nonce is not ours");
        }

        var wanted = CertId(certificate, issuer);
        var single = basic.Responses.FirstOrDefault(r => r.GetCertID().Equals(wanted));
        if (single is null) return new(OcspOutcome.Malformed, $"no answer for serial {certificate.SerialNumber}");

        var thisUpdate = single.ThisUpdate.ToUniversalTime();
        DateTime? nextUpdate = single.NextUpdate?.ToUniversalTime();
        if (thisUpdate > nowUtc + ClockSkew) return new(OcspOutcome.Stale, $"thisUpdate {thisUpdate:u} is in the future");
        if (nextUpdate is { } next && next < nowUtc - ClockSkew) return new(OcspOutcome.Stale, $"nextUpdate {next:u} has passed");
        if (nextUpdate is null && thisUpdate < nowUtc - MaxAgeWithoutNextUpdate - ClockSkew)
        {
            return new(OcspOutcome.Stale, $"thisUpdate {thisUpdate:u} without nextUpdate is too old");
        }

        return single.GetCertStatus() switch
        {
            null => new(OcspOutcome.Good, $"good, thisUpdate {thisUpdate:u}", null, nextUpdate),
            RevokedStatus revoked => new(OcspOutcome.Revoked, $"revoked {revoked.RevocationTime.ToUniversalTime():u}",
                revoked.RevocationTime.ToUniversalTime(), nextUpdate),
            _ => new(OcspOutcome.Unknown, "the responder does not know the certificate"),
        };
    }

    /// <summary>
    /// Null when the issuer's key verifies the response, or a certificate in it does that the issuer signed, that has
    /// id-kp-OCSPSigning (RFC 6960 §4.2.2.2) and is valid now; else why not.
    /// </summary>
    private static string? SignerProblem(BasicOcspResp basic, BcCertificate issuer, DateTime nowUtc)
    {
        if (basic.Verify(issuer.GetPublicKey())) return null;
        foreach (var responder in basic.GetCerts())
        {
            if (!responder.IssuerDN.Equivalent(issuer.SubjectDN) || !SignedBy(responder, issuer)) continue;
            if (!basic.Verify(responder.GetPublicKey())) continue;
            if (responder.GetExtendedKeyUsage()?.Any(k => k.Id == OcspSigningOid) != true)
            {
                return $"responder certificate \"{responder.SubjectDN}\" lacks id-kp-OCSPSigning";
            }
            if (nowUtc < responder.NotBefore.ToUniversalTime() || nowUtc > responder.NotAfter.ToUniversalTime())
            {
                return $"responder certificate \"{responder.SubjectDN}\" is not valid now";
            }
            return null;
        }
        return "signed neither by the issuer nor by a responder certificate it issued";
    }

    private static bool SignedBy(BcCertificate certificate, BcCertificate issuer)
    {
        try
        {
            certificate.Verify(issuer.GetPublicKey());
            return true;
        }
        catch (Exception e) when (e is Org.BouncyCastle.Security.GeneralSecurityException or Org.BouncyCastle.Security.InvalidKeyException
                                      or Org.BouncyCastle.Security.Certificates.CertificateException or Org.BouncyCastle.Crypto.CryptoException
                                      or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    private static BcCertificate Parse(X509Certificate2 certificate) => new BcCertificateParser().ReadCertificate(certificate.RawData);
}

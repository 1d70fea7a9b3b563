using System.Security.Cryptography;
using Concentrator.Ike.Crypto;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Ocsp;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crypto.Operators;
using Org.BouncyCastle.Ocsp;
using Org.BouncyCastle.Security;
using BcCertificate = Org.BouncyCastle.X509.X509Certificate;

namespace Concentrator.Tests.Ike.Crypto;

/// <summary>
/// OCSP responses (RFC 6960) made here with BouncyCastle's generator, each checked by <see cref="OcspMessages.Evaluate"/>:
/// what the responder says when every check passes, and each check that must refuse a response (signer, time, nonce,
/// CertID, status, garbage) without throwing.
/// </summary>
public sealed class OcspMessagesTests(OcspMessagesTests.Pki pki) : IClassFixture<OcspMessagesTests.Pki>
{
    public sealed class Pki : IDisposable
    {
        public Pki()
        {
            Files = new TestPki();
            Ca = Files.Ca("C=CH, O=Test, CN=OCSP Root", TestKey.Rsa2048);
            Other = Files.Ca("C=CH, O=Test, CN=Other Root", TestKey.Rsa2048);
            Client = Files.EndEntity("C=CH, O=Test, CN=client", TestKey.EcdsaP256, Ca, dns: ["client.example"]);
            Responder = Files.EndEntity("C=CH, O=Test, CN=ocsp", TestKey.Rsa2048, Ca, eku: ["1.3.6.1.5.5.7.3.9"]);
            NotResponder = Files.EndEntity("C=CH, O=Test, CN=not-ocsp", TestKey.Rsa2048, Ca, eku: ["1.3.6.1.5.5.7.3.2"]);
            ForeignResponder = Files.EndEntity("C=CH, O=Test, CN=foreign-ocsp", TestKey.Rsa2048, Other, eku: ["1.3.6.1.5.5.7.3.9"]);
        }

        public TestPki Files { get; }
        public Issued Ca { get; }
        public Issued Other { get; }
        public Issued Client { get; }
        public Issued Responder { get; }
        public Issued NotResponder { get; }
        public Issued ForeignResponder { get; }

        public void Dispose() => Files.Dispose();
    }

    private static readonly byte[] Nonce = Enumerable.Range(1, OcspMessages.NonceLength).Select(i => (byte)i).ToArray();
    private readonly DateTime _now = DateTime.UtcNow;

    /// <summary>A signed response: <paramref name="signer"/>'s key, its certificate included unless it is the CA.</summary>
    internal static byte[] Response(Issued signer, Issued ca, Issued subject, CertificateStatus? status, DateTime thisUpdate, DateTime? nextUpdate,
        byte[]? nonce, int responseStatus = OcspRespStatus.Successful, Org.BouncyCastle.Math.BigInteger? serial = null)
    {
        var signerBc = Bc(signer);
        var generator = new BasicOcspRespGenerator(new RespID(signerBc.SubjectDN));
        var id = OcspMessages.CertId(subject.Certificate, ca.Certificate);
        if (serial is not null) id = CertificateID.DeriveCertificateID(id, serial);
        generator.AddResponse(id, status, thisUpdate, nextUpdate, null);
        if (nonce is not null)
        {
            var extensions = new X509ExtensionsGenerator();
            extensions.AddExtension(OcspObjectIdentifiers.PkixOcspNonce, false, new DerOctetString(nonce));
            generator.SetResponseExtensions(extensions.Generate());
        }
        var key = DotNetUtilities.GetRsaKeyPair((RSA)signer.Key).Private;
        var chain = ReferenceEquals(signer, ca) ? null : new[] { signerBc };
        var basic = generator.Generate(new Asn1SignatureFactory("SHA256WITHRSA", key), chain, DateTime.UtcNow);
        return new OCSPRespGenerator().Generate(responseStatus, responseStatus == OcspRespStatus.Successful ? basic : null).GetEncoded();
    }

    private static BcCertificate Bc(Issued issued) => new Org.BouncyCastle.X509.X509CertificateParser().ReadCertificate(issued.Certificate.RawData);

    private OcspAnswer Evaluate(byte[] response, byte[]? nonce = null) =>
        OcspMessages.Evaluate(response, pki.Client.Certificate, pki.Ca.Certificate, nonce ?? Nonce, _now);

    private byte[] Good(Issued? signer = null, byte[]? nonce = null) =>
        Response(signer ?? pki.Ca, pki.Ca, pki.Client, CertificateStatus.Good, _now.AddMinutes(-1), _now.AddHours(1), nonce ?? Nonce);

    [Fact]
    public void A_good_answer_signed_by_the_issuer_is_good_until_its_next_update()
    {
        var answer = Evaluate(Good());
        Assert.Equal(OcspOutcome.Good, answer.Outcome);
        Assert.NotNull(answer.NextUpdateUtc);
        Assert.InRange(answer.NextUpdateUtc!.Value, _now.AddMinutes(59), _now.AddMinutes(61));
    }

    [Fact]
    public void A_revoked_answer_is_revoked_with_its_date()
    {
        var at = _now.AddDays(-2);
        var answer = Evaluate(Response(pki.Ca, pki.Ca, pki.Client, new RevokedStatus(at, CrlReason.KeyCompromise), _now.AddMinutes(-1), _now.AddHours(1), Nonce));
        Assert.Equal(OcspOutcome.Revoked, answer.Outcome);
        Assert.InRange(answer.RevokedAtUtc!.Value, at.AddSeconds(-1), at.AddSeconds(1));
    }

    [Fact]
    public void An_unknown_answer_is_unknown()
    {
        var answer = Evaluate(Response(pki.Ca, pki.Ca, pki.Client, new UnknownStatus(), _now.AddMinutes(-1), _now.AddHours(1), Nonce));
        Assert.Equal(OcspOutcome.Unknown, answer.Outcome);
    }

    [Fact]
    public void A_delegated_responder_of_the_issuer_with_ocsp_signing_is_believed()
    {
        Assert.Equal(OcspOutcome.Good, Evaluate(Good(pki.Responder)).Outcome);
    }

    [Fact]
    public void Wrong_signers_are_refused()
    {
        // Another CA's key, a certificate of the issuer without id-kp-OCSPSigning, a responder of another CA.
        Assert.Equal(OcspOutcome.BadSignature, Evaluate(Good(pki.Other)).Outcome);
        var notResponder = Evaluate(Good(pki.NotResponder));
        Assert.Equal(OcspOutcome.BadSignature, notResponder.Outcome);
        Assert.Contains("OCSPSigning", notResponder.Detail);
        Assert.Equal(OcspOutcome.BadSignature, Evaluate(Good(pki.ForeignResponder)).Outcome);
    }

    [Fact]
    public void A_response_signed_by_the_issuer_with_a_flipped_bit_is_refused()
    {
        var response = Good();
        response[^5] ^= 0x01; // in the signature BIT STRING, the last element of BasicOCSPResponse
        Assert.Equal(OcspOutcome.BadSignature, Evaluate(response).Outcome);
    }

    [Fact]
    public void Expired_and_future_answers_are_stale()
    {
        var expired = Response(pki.Ca, pki.Ca, pki.Client, CertificateStatus.Good, _now.AddDays(-2), _now.AddDays(-1), Nonce);
        Assert.Equal(OcspOutcome.Stale, Evaluate(expired).Outcome);
        var future = Response(pki.Ca, pki.Ca, pki.Client, CertificateStatus.Good, _now.AddHours(1), _now.AddHours(2), Nonce);
        Assert.Equal(OcspOutcome.Stale, Evaluate(future).Outcome);
        var oldWithoutNext = Response(pki.Ca, pki.Ca, pki.Client, CertificateStatus.Good, _now.AddHours(-1), null, Nonce);
        Assert.Equal(OcspOutcome.Stale, Evaluate(oldWithoutNext).Outcome);
        // Within the skew: a responder clock a minute ahead, a nextUpdate a minute ago.
        var skewed = Response(pki.Ca, pki.Ca, pki.Client, CertificateStatus.Good, _now.AddMinutes(1), _now.AddMinutes(-1), Nonce);
        Assert.Equal(OcspOutcome.Good, Evaluate(skewed).Outcome);
        // openssl ocsp without -nmin/-ndays: no nextUpdate, thisUpdate now; good, and nothing to cache until.
        var fresh = Evaluate(Response(pki.Ca, pki.Ca, pki.Client, CertificateStatus.Good, _now, null, Nonce));
        Assert.Equal(OcspOutcome.Good, fresh.Outcome);
        Assert.Null(fresh.NextUpdateUtc);
    }

    [Fact]
    public void A_nonce_that_is_not_ours_is_refused_and_a_missing_one_accepted()
    {
        var other = (byte[])Nonce.Clone();
        other[0] ^= 0xFF;
        Assert.Equal(OcspOutcome.NonceMismatch, Evaluate(Good(nonce: other)).Outcome);
        var withoutNonce = Response(pki.Ca, pki.Ca, pki.Client, CertificateStatus.Good, _now.AddMinutes(-1), _now.AddHours(1), nonce: null);
        Assert.Equal(OcspOutcome.Good, Evaluate(withoutNonce).Outcome);
    }

    [Fact]
    public void An_answer_for_another_certificate_is_not_taken()
    {
        var other = Response(pki.Ca, pki.Ca, pki.Client, CertificateStatus.Good, _now.AddMinutes(-1), _now.AddHours(1), Nonce,
            serial: new Org.BouncyCastle.Math.BigInteger("123456789"));
        Assert.Equal(OcspOutcome.Malformed, Evaluate(other).Outcome);
    }

    [Fact]
    public void Responder_errors_and_garbage_never_throw()
    {
        Assert.Equal(OcspOutcome.ResponderError,
            Evaluate(Response(pki.Ca, pki.Ca, pki.Client, null, _now, null, null, OcspRespStatus.TryLater)).Outcome);
        Assert.Equal(OcspOutcome.Malformed, Evaluate([]).Outcome);
        Assert.Equal(OcspOutcome.Malformed, Evaluate("<html>proxy error</html>"u8.ToArray()).Outcome);
        var good = Good();
        var random = new Random(15);
        for (int length = 0; length < good.Length; length++)
        {
            Assert.NotEqual(OcspOutcome.Good, Evaluate(good[..length]).Outcome);
        }
        for (int i = 0; i < 2000; i++)
        {
            var mutated = (byte[])good.Clone();
            mutated[random.Next(mutated.Length)] ^= (byte)(1 << random.Next(8));
            _ = Evaluate(mutated); // any outcome, no exception
        }
    }

    [Fact]
    public void The_request_carries_the_certid_and_nonce()
    {
        var request = new OcspReq(OcspMessages.BuildRequest(pki.Client.Certificate, pki.Ca.Certificate, Nonce));
        var single = Assert.Single(request.GetRequestList());
        Assert.Equal(OcspMessages.CertId(pki.Client.Certificate, pki.Ca.Certificate), single.GetCertID());
        var nonce = Asn1OctetString.GetInstance(request.GetExtensionValue(OcspObjectIdentifiers.PkixOcspNonce).GetOctets()).GetOctets();
        Assert.Equal(Nonce, nonce);
    }
}

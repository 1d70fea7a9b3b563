using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Wire.WireSamples;

namespace Concentrator.Tests.Ike.Wire;

public class PayloadRulesTests
{
    private static NotifyPayload N(NotifyType t) => new(t, [1, 2, 3, 4]);
    private static ParseStatus Check(ExchangeType e, bool response, params Payload[] payloads) => PayloadRules.Check(e, response, payloads);

    [Fact]
    public void Table_CoversEveryExchangeAndDirection()
    {
        foreach (var e in Enum.GetValues<ExchangeType>())
        {
            Assert.True(PayloadRules.Table.ContainsKey((e, false)), $"{e} request");
            Assert.True(PayloadRules.Table.ContainsKey((e, true)), $"{e} response");
        }

        Assert.Equal(ParseStatus.BadPayloadSequence, Check((ExchangeType)40, false, N(NotifyType.InitialContact)));
    }

    [Fact]
    public void IkeSaInit_Request()
    {
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeSaInit, false, IkeSa(), Ke(), Nonce(), NatSrc(), Vid()));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeSaInit, false, N(NotifyType.Cookie), IkeSa(), Ke(), Nonce()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, false, IkeSa(), Nonce()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, false, IkeSa(), Ke()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, false, Ke(), Nonce()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, false, IkeSa(), Ke(), Nonce(), Nonce()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, false, IkeSa(), Ke(), Nonce(), IdI()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, false, IkeSa(), Ke(), Nonce(), new EncryptedPayload(PayloadType.None, [])));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, false));
        // An unknown non-critical payload is ignored.
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeSaInit, false, IkeSa(), new UnknownPayload((PayloadType)120, []), Ke(), Nonce()));
    }

    [Fact]
    public void IkeSaInit_Response()
    {
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeSaInit, true, IkeSa(), Ke(), Nonce(), CertReq(), NatSrc()));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeSaInit, true, N(NotifyType.Cookie)));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeSaInit, true, N(NotifyType.NoProposalChosen)));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeSaInit, true, N(NotifyType.InvalidKePayload), Vid()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, true, N(NotifyType.NatDetectionSourceIp)));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, true, IkeSa(), Nonce(), N(NotifyType.IkeFragmentationSupported)));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, true, N(NotifyType.Cookie), IkeSa(), IkeSa()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeSaInit, true, N(NotifyType.NoProposalChosen), DeleteIke()));
    }

    [Fact]
    public void IkeAuth_Request()
    {
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, false, IdI(), Auth(), EspSa(), TsI(), TsR()));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, false, IdI(), Cert(), CertReq(), IdR(), Auth(), Cp(), EspSa(), TsI(), TsR(), N(NotifyType.InitialContact)));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, false, IdI(), Auth()));                      // childless
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, false, IdI(), EspSa(), TsI(), TsR()));       // EAP start
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, false, Eap()));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, false, Auth()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, false, IdI(), Auth(), EspSa(), TsI()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, false, IdI(), Auth(), TsI(), TsR()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, false, IdI(), IdI(), Auth()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, false, IdI(), Auth(), Auth()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, false, IdI(), Auth(), Ke()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, false, IdR(), Auth()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, false, Eap(), Auth(), Cp()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, false));
    }

    [Theory]
    [InlineData(ExchangeType.IkeSaInit)]
    [InlineData(ExchangeType.IkeAuth)]
    [InlineData(ExchangeType.CreateChildSa)]
    public void An_error_notify_stands_in_for_the_payloads_of_a_response_never_of_a_request(ExchangeType exchange)
    {
        // strongSwan marks Notify sufficient in responses only: the tasks may rely on a request's required payloads.
        Assert.Equal(ParseStatus.Ok, Check(exchange, true, N(NotifyType.NoProposalChosen)));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(exchange, false, N(NotifyType.NoProposalChosen)));
    }

    [Fact]
    public void IkeAuth_Response()
    {
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, true, IdR(), Auth(), EspSa(), TsI(), TsR()));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, true, IdR(), Cert(), Auth(), Cp(), EspSa(), TsI(), TsR()));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, true, N(NotifyType.AuthenticationFailed)));
        // AUTH succeeded, the Child SA did not (§1.2): error notify instead of SA/TS.
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, true, IdR(), Auth(), N(NotifyType.TsUnacceptable)));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, true, IdR(), Auth(), Eap()));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, true, Eap()));
        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.IkeAuth, true, Auth(), EspSa(), TsI(), TsR()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, true, IdR(), EspSa(), TsI(), TsR()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, true, IdI(), Auth()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, true, IdR(), Auth(), CertReq()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, true, N(NotifyType.AuthenticationFailed), EspSa(), TsI()));
        Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.IkeAuth, true, N(NotifyType.InitialContact)));
    }

    [Fact]
    public void CreateChildSa()
    {
        foreach (bool response in new[] { false, true })
        {
            Assert.Equal(ParseStatus.Ok, Check(ExchangeType.CreateChildSa, response, EspSa(), Nonce(), TsI(), TsR()));
            Assert.Equal(ParseStatus.Ok, Check(ExchangeType.CreateChildSa, response, N(NotifyType.RekeySa), EspSa(), Nonce(), Ke(), TsI(), TsR()));
            Assert.Equal(ParseStatus.Ok, Check(ExchangeType.CreateChildSa, response, IkeSa(), Nonce(), Ke()));   // IKE SA rekey
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.CreateChildSa, response, EspSa(), TsI(), TsR()));
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.CreateChildSa, response, Nonce(), TsI(), TsR()));
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.CreateChildSa, response, EspSa(), Nonce(), TsR()));
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.CreateChildSa, response, EspSa(), Nonce(), Ke(), Ke()));
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.CreateChildSa, response, EspSa(), Nonce(), IdI()));
        }

        Assert.Equal(ParseStatus.Ok, Check(ExchangeType.CreateChildSa, true, N(NotifyType.NoAdditionalSas)));
    }

    [Fact]
    public void Informational()
    {
        foreach (bool response in new[] { false, true })
        {
            Assert.Equal(ParseStatus.Ok, Check(ExchangeType.Informational, response));
            Assert.Equal(ParseStatus.Ok, Check(ExchangeType.Informational, response, DeleteEsp(), DeleteEsp(), N(NotifyType.InitialContact)));
            Assert.Equal(ParseStatus.Ok, Check(ExchangeType.Informational, response, DeleteIke()));
            Assert.Equal(ParseStatus.Ok, Check(ExchangeType.Informational, response, Cp(), Vid()));
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.Informational, response, Cp(), Cp()));
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.Informational, response, EspSa()));
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.Informational, response, DeleteEsp(), Nonce()));
            Assert.Equal(ParseStatus.BadPayloadSequence, Check(ExchangeType.Informational, response, N(NotifyType.InvalidSpi), Auth()));
        }
    }
}

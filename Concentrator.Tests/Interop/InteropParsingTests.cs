using Concentrator.Testbed.Interop;

namespace Concentrator.Tests.Interop;

/// <summary>The harness's parsers, without root: vici raw text, SPIs, the concentrator's JSON log lines.</summary>
public sealed class InteropParsingTests
{
    private const string ListSasRaw =
        "list-sa event {gw {uniqueid=1 version=2 state=ESTABLISHED local-host=10.99.1.2 local-port=4500 " +
        "local-id=peer.interop.test remote-host=10.99.1.1 remote-port=4500 remote-id=gw.interop.test initiator=yes " +
        "initiator-spi=a1b2c3d4e5f60718 responder-spi=0102030405060708 nat-local=yes nat-any=yes encr-alg=AES_GCM_16 " +
        "encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=ECP_256 established=1 rekey-time=0 " +
        "child-sas {net-1 {name=net uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP encap=yes " +
        "spi-in=02456124 spi-out=9c92587b encr-alg=AES_GCM_16 encr-keysize=256 bytes-in=252 packets-in=3 " +
        "bytes-out=504 packets-out=6 local-ts=[10.99.10.1/32] remote-ts=[10.99.2.0/24 10.99.3.0/24]}}}}\n" +
        "list-sa event {other {uniqueid=2 version=2 state=CONNECTING child-sas {}}}\n";

    [Fact]
    public void List_sas_raw_is_parsed_into_ike_and_child_sas()
    {
        var sas = IkeSaInfo.ParseListSas(ListSasRaw);
        Assert.Equal(2, sas.Count);
        var gw = sas[0];
        Assert.Equal("gw", gw.Name);
        Assert.Equal("ESTABLISHED", gw.State);
        Assert.Equal("ECP_256", gw.Get("dh-group"));
        Assert.Equal("yes", gw.Get("nat-local"));
        var child = Assert.Single(gw.Children);
        Assert.Equal("net", child.Name);
        Assert.Equal("INSTALLED", child.State);
        Assert.Equal("02456124", child.SpiIn);
        Assert.Equal("9c92587b", child.SpiOut);
        Assert.Equal(3, child.Number("packets-in"));
        Assert.Equal(6, child.Number("packets-out"));
        Assert.Equal(["10.99.10.1/32"], child.LocalTs);
        Assert.Equal(["10.99.2.0/24", "10.99.3.0/24"], child.RemoteTs);
        Assert.Equal("CONNECTING", sas[1].State);
        Assert.Empty(sas[1].Children);
    }

    [Fact]
    public void Empty_list_sas_output_has_no_sas() => Assert.Empty(IkeSaInfo.ParseListSas(""));

    [Theory]
    [InlineData("0x9C92587B", "9c92587b")]
    [InlineData("9c92587b", "9c92587b")]
    [InlineData("02456124", "02456124")]
    [InlineData("0x00c0ffee", "00c0ffee")]
    [InlineData("c0ffee", "00c0ffee")]
    public void Spis_are_normalized_as_hex(string text, string expected) => Assert.Equal(expected, Underlay.NormalizeSpi(text));

    [Fact]
    public void Capture_lines_yield_distinct_spis() =>
        Assert.Equal(["8930bbdb", "2418c8ad"], Underlay.Capture.Spis([
            "10.99.1.2,10.99.1.1,4500,4500,0x8930bbdb",
            "10.99.1.1,10.99.1.2,4500,4500,0x2418c8ad",
            "10.99.1.2,10.99.1.1,4500,4500,0x8930bbdb",
            "10.99.1.2,10.99.1.1,4500,4500,",
        ]));

    [Fact]
    public void Concentrator_json_log_lines_are_parsed()
    {
        var e = ConcentratorProcess.ParseLine(
            """{"Timestamp":"2026-11-27T06:19:39.231Z","EventId":1003,"LogLevel":"Information","Category":"Concentrator.Ike","Message":"Child SA peer/net installed","State":{}}""");
        Assert.Equal(ConcentratorProcess.ChildSaInstalled, e.EventId);
        Assert.Equal("Information", e.Level);
        Assert.Equal("Child SA peer/net installed", e.Message);
        Assert.Equal(-1, ConcentratorProcess.ParseLine("{\"Timestamp\":\"2026-11-27T0").EventId);
    }

    [Fact]
    public void Stale_namespace_names_carry_their_owner_pid()
    {
        var m = Netns.OwnerPid().Match("cit1196x0d890b-gw");
        Assert.True(m.Success);
        Assert.Equal("1196", m.Groups["pid"].Value);
        Assert.False(Netns.OwnerPid().Match("other-ns").Success);
    }
}

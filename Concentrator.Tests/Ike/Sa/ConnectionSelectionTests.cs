using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// Which connection and which PSK a responder uses for a peer, end to end between two directly wired
/// <see cref="IkeSa"/> (issue 14, findings 2 and 3): strongSwan's ranking (the peer's identity first), wildcard and
/// DN identities, swanctl's typed prefixes, and the IKE proposal of IKE_SA_INIT re-checked when IKE_AUTH picks
/// another connection.
/// </summary>
public sealed class ConnectionSelectionTests
{
    private const string Child = """
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16] }
        """;

    private static string Responder(string connections, string secrets) => $"""
        listen: {"{"} addresses: [127.0.0.1], ike_port: 0, natt_port: 0 {"}"}
        connections:
        {connections}
        secrets:
        {secrets}
        """;

    /// <summary>One initiator connection "site" with one secret that has no ids (used for whatever it talks to).</summary>
    private static string Initiator(string localId, string remoteId, string psk, string proposals = "aes256gcm16-prfsha256-ecp256", bool weak = false) => $"""
        listen: {"{"} addresses: [127.0.0.1], ike_port: 0, natt_port: 0 {"}"}
        connections:
          site:
            remote_addrs: [127.0.0.1]
            proposals: [{proposals}]
            weak_algorithms: {(weak ? "yes" : "no")}
            local: {"{"} auth: psk, id: "{localId}" {"}"}
            remote: {"{"} auth: psk, id: "{remoteId}" {"}"}
            children:
              net: {"{"} local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16] {"}"}
        secrets:
          mine: {"{"} secret: "{psk}" {"}"}
        """;

    private static (RekeyHarness.Side I, RekeyHarness.Side R) Handshake(string responderYaml, string initiatorYaml)
    {
        var rConfig = ConcentratorConfig.Parse(responderYaml, "<r>");
        var iConfig = ConcentratorConfig.Parse(initiatorYaml, "<i>");
        var rPlane = new InMemoryDataPlane();
        var iPlane = new InMemoryDataPlane();
        var i = new RekeyHarness.Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane },
            iConfig.Connections["site"], 0x0A0B_0C0D_0E0F_1011, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp), iPlane, RekeyHarness.InitiatorEp);
        var r = new RekeyHarness.Side(IkeSa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane },
            0x0A0B_0C0D_0E0F_1011, 0x2122_2324_2526_2728, RekeyHarness.ResponderEp, RekeyHarness.InitiatorEp, natT: false), rPlane, RekeyHarness.ResponderEp);
        i.Sa.Initiate();
        RekeyHarness.Pump(i, r);
        return (i, r);
    }

    private static void AssertEstablished(RekeyHarness.Side i, RekeyHarness.Side r, string connection)
    {
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(connection, r.Sa.Connection!.Name);
        Assert.Equal(1, r.Plane.InstalledCount);
    }

    private static void AssertRefused(RekeyHarness.Side i, RekeyHarness.Side r)
    {
        Assert.NotEqual(IkeSaState.Established, r.Sa.State);
        Assert.NotEqual(IkeSaState.Established, i.Sa.State);
        Assert.Equal(CloseReason.AuthFailed, r.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(CloseReason.AuthFailed, i.Seen.OfType<IkeSaClosed>().Single().Reason);
        Assert.Equal(0, r.Plane.InstalledCount);
    }

    // ---- finding 2: the PSK follows the peer's identity first ----

    private static readonly string SiteAndAlice = Responder($"""
          rw:
            local: {"{"} auth: psk, id: gw.test {"}"}
            remote: {"{"} auth: psk, id: "%any" {"}"}
        {Child}
        """, """
          site-a: { id: [site-a.test, gw.test], secret: "site-a-key-0123456789" }
          alice: { id: alice@example.net, secret: "alice-key-0123456789" }
        """);

    /// <summary>
    /// site-a's secret names the gateway's id (as the shipped example.yaml does): the old sum of both scores tied it with
    /// alice's own secret and took the first, so whoever held site-a's key logged in as alice. strongSwan ranks the peer's
    /// identity first (credential_manager get_shared), so alice's secret is the one, and site-a's key is refused for her.
    /// </summary>
    [Fact]
    public void A_secret_naming_the_gateway_does_not_authenticate_a_peer_that_has_its_own()
    {
        var (i, r) = Handshake(SiteAndAlice, Initiator("alice@example.net", "gw.test", "site-a-key-0123456789"));
        AssertRefused(i, r);

        (i, r) = Handshake(SiteAndAlice, Initiator("alice@example.net", "gw.test", "alice-key-0123456789"));
        AssertEstablished(i, r, "rw");
        Assert.Equal("alice@example.net", r.Sa.RemoteId!.Text);

        // A peer with no secret of its own still gets the gateway's (the config says any peer may use it).
        (i, r) = Handshake(SiteAndAlice, Initiator("site-a.test", "gw.test", "site-a-key-0123456789"));
        AssertEstablished(i, r, "rw");
    }

    // ---- finding 3: best match, wildcards, DNs, typed prefixes, the IKE proposal ----

    private static readonly string PartnersAndStaff = Responder($"""
          partners:
            local: {"{"} auth: psk, id: gw.test {"}"}
            remote: {"{"} auth: psk, id: "*@partner.example" {"}"}
        {Child}
          staff:
            local: {"{"} auth: psk, id: gw.test {"}"}
            remote: {"{"} auth: psk, id: "*@example.net" {"}"}
        {Child}
        """, """
          partners: { id: "*@partner.example", secret: "partner-key-0123456789" }
          staff: { id: "*@example.net", secret: "staff-key-0123456789" }
        """);

    [Fact]
    public void A_wildcard_remote_id_selects_its_connection_and_its_secret()
    {
        var (i, r) = Handshake(PartnersAndStaff, Initiator("bob@example.net", "gw.test", "staff-key-0123456789"));
        AssertEstablished(i, r, "staff");
        Assert.Equal(IdType.Rfc822Address, r.Sa.RemoteId!.Type);

        (i, r) = Handshake(PartnersAndStaff, Initiator("eve@partner.example", "gw.test", "partner-key-0123456789"));
        AssertEstablished(i, r, "partners");

        // A partner's key does not make a staff identity, and an identity no connection accepts is refused.
        (i, r) = Handshake(PartnersAndStaff, Initiator("bob@example.net", "gw.test", "partner-key-0123456789"));
        AssertRefused(i, r);
        (i, r) = Handshake(PartnersAndStaff, Initiator("mallory@example.org", "gw.test", "staff-key-0123456789"));
        AssertRefused(i, r);
    }

    private static readonly string AnyoneAndAlice = Responder($"""
          anyone:
            local: {"{"} auth: psk, id: gw.test {"}"}
            remote: {"{"} auth: psk, id: "%any" {"}"}
        {Child}
          alice:
            local: {"{"} auth: psk, id: gw.test {"}"}
            remote: {"{"} auth: psk, id: alice@example.net {"}"}
        {Child}
        """, """
          everyone: { secret: "shared-key-0123456789" }
        """);

    /// <summary>strongSwan's backend_manager sorts candidates by how well they match (a perfect id over %any), not by order.</summary>
    [Fact]
    public void The_best_identity_match_wins_over_the_first_match()
    {
        var (i, r) = Handshake(AnyoneAndAlice, Initiator("alice@example.net", "gw.test", "shared-key-0123456789"));
        AssertEstablished(i, r, "alice");

        (i, r) = Handshake(AnyoneAndAlice, Initiator("bob@example.net", "gw.test", "shared-key-0123456789"));
        AssertEstablished(i, r, "anyone");
    }

    /// <summary>strongSwan's get_ike_match: an exact remote address ranks above %any, whatever the order in the file.</summary>
    [Fact]
    public void An_exact_address_match_wins_over_any_address()
    {
        var responder = Responder($"""
              anywhere:
                remote_addrs: ["%any"]
                local: {"{"} auth: psk, id: gw.test {"}"}
                remote: {"{"} auth: psk, id: "%any" {"}"}
            {Child}
              branch:
                remote_addrs: [{RekeyHarness.InitiatorEp.Address}]
                local: {"{"} auth: psk, id: gw.test {"}"}
                remote: {"{"} auth: psk, id: "%any" {"}"}
            {Child}
              subnet:
                remote_addrs: [192.0.2.0/24]
                local: {"{"} auth: psk, id: gw.test {"}"}
                remote: {"{"} auth: psk, id: "%any" {"}"}
            {Child}
            """, """
              everyone: { secret: "shared-key-0123456789" }
            """);
        var config = ConcentratorConfig.Parse(responder, "<r>");
        Assert.Equal(["branch", "subnet", "anywhere"],
            new ConfigConnectionResolver(config).FindCandidates(RekeyHarness.ResponderEp, RekeyHarness.InitiatorEp).Select(c => c.Name));
        var (i, r) = Handshake(responder, Initiator("site.test", "gw.test", "shared-key-0123456789"));
        AssertEstablished(i, r, "branch");
    }

    private static readonly string LegacyAndModern = Responder($"""
          legacy:
            proposals: [3des-sha1-modp1024]
            weak_algorithms: yes
            local: {"{"} auth: psk, id: gw.test {"}"}
            remote: {"{"} auth: psk, id: legacy.test {"}"}
        {Child}
          modern:
            proposals: [aes256gcm16-prfsha256-ecp256]
            local: {"{"} auth: psk, id: gw.test {"}"}
            remote: {"{"} auth: psk, id: modern.test {"}"}
        {Child}
        """, """
          everyone: { secret: "shared-key-0123456789" }
        """);

    /// <summary>
    /// IKE_SA_INIT can only pick a proposal by addresses, so a peer offering 3DES lands on the legacy connection's
    /// proposals; if its IDi then names the modern connection, strongSwan (ike_auth load_cfg_candidates) ignores every
    /// candidate whose proposals do not contain the chosen one. Switching anyway gave "modern" the legacy algorithms.
    /// </summary>
    [Fact]
    public void Ike_auth_never_switches_to_a_connection_whose_proposals_refuse_the_chosen_ike_proposal()
    {
        var (i, r) = Handshake(LegacyAndModern, Initiator("modern.test", "gw.test", "shared-key-0123456789", "3des-sha1-modp1024", weak: true));
        AssertRefused(i, r);

        (i, r) = Handshake(LegacyAndModern, Initiator("legacy.test", "gw.test", "shared-key-0123456789", "3des-sha1-modp1024", weak: true));
        AssertEstablished(i, r, "legacy");
        (i, r) = Handshake(LegacyAndModern, Initiator("modern.test", "gw.test", "shared-key-0123456789"));
        AssertEstablished(i, r, "modern");
    }

    /// <summary>"C=CH, O=Example, CN=peer" in DER: SEQUENCE of three SET { SEQUENCE { OID, PrintableString } } (strongSwan's atodn).</summary>
    private static readonly byte[] PeerDn = Convert.FromHexString(
        "302e" + "310b3009060355040613024348" + "3110300e060355040a13074578616d706c65" + "310d300b0603550403130470656572");

    [Fact]
    public void Dn_identities_travel_as_der_and_match_rdn_wildcards()
    {
        var responder = Responder($"""
              other:
                local: {"{"} auth: psk, id: "C=CH, O=Example, CN=gw" {"}"}
                remote: {"{"} auth: psk, id: "C=CH, O=Other, CN=*" {"}"}
            {Child}
              example:
                local: {"{"} auth: psk, id: "C=CH, O=Example, CN=gw" {"}"}
                remote: {"{"} auth: psk, id: "C=CH, O=Example, CN=*" {"}"}
            {Child}
            """, """
              everyone: { secret: "shared-key-0123456789" }
            """);
        // The initiator's remote id has a wildcard: it is not sent as IDr, and the responder's DN is accepted by it.
        var (i, r) = Handshake(responder, Initiator("C=CH, O=Example, CN=peer", "C=CH, O=Example, CN=*", "shared-key-0123456789"));
        AssertEstablished(i, r, "example");
        Assert.Equal(IdType.DerAsn1Dn, r.Sa.RemoteId!.Type);
        Assert.Equal(PeerDn, r.Sa.RemoteId.Data);
        Assert.Equal("C=CH, O=Example, CN=peer", r.Sa.RemoteId.Text);
        Assert.Equal(IdType.DerAsn1Dn, i.Sa.RemoteId!.Type);
        Assert.Equal("C=CH, O=Example, CN=gw", i.Sa.RemoteId.Text);
    }

    [Fact]
    public void Typed_prefixes_choose_the_identity_type()
    {
        var responder = Responder($"""
              rw:
                local: {"{"} auth: psk, id: "fqdn:gw.test" {"}"}
                remote: {"{"} auth: psk, id: "email:peer.example" {"}"}
            {Child}
            """, """
              everyone: { id: ["email:peer.example"], secret: "shared-key-0123456789" }
            """);
        var (i, r) = Handshake(responder, Initiator("email:peer.example", "gw.test", "shared-key-0123456789"));
        AssertEstablished(i, r, "rw");
        Assert.Equal(IdType.Rfc822Address, r.Sa.RemoteId!.Type);
        Assert.Equal("peer.example"u8.ToArray(), r.Sa.RemoteId.Data);
        Assert.Equal(IdType.Fqdn, i.Sa.RemoteId!.Type);
        Assert.Equal("gw.test"u8.ToArray(), i.Sa.RemoteId.Data);
    }
}

using System.Text;
using Concentrator.Config;

namespace Concentrator.Tests.Config;

public class SharedKeyTests
{
    private static ConcentratorConfig Config(string secrets) => ConcentratorConfig.Parse("secrets:\n" + secrets, "secrets.yaml");

    private static string? Key(ConcentratorConfig c, string local, string remote) =>
        c.FindSharedKey(local, remote) is { } k ? Encoding.UTF8.GetString(k) : null;

    [Fact]
    public void Secret_matching_both_ids_beats_one_matching_only_the_peer()
    {
        var c = Config("""
              peer-only: { id: client.example.net, secret: peer }
              both: { id: [client.example.net, gw.example.net], secret: both }
              local-only: { id: gw.example.net, secret: local }
            """);
        Assert.Equal("both", Key(c, "gw.example.net", "client.example.net"));
        // Our id matches neither: "peer-only" and "both" tie on the peer's id; only our id matches: "both" and
        // "local-only" tie. As in strongSwan (whose credential set lists the newest secret first) the one loaded last wins.
        Assert.Equal("both", Key(c, "other.example.net", "client.example.net"));
        Assert.Equal("local", Key(c, "gw.example.net", "stranger.example.net"));
        var reordered = Config("""
              local-only: { id: gw.example.net, secret: local }
              both: { id: [client.example.net, gw.example.net], secret: both }
            """);
        Assert.Equal("both", Key(reordered, "gw.example.net", "stranger.example.net"));
        Assert.Equal("both", Key(reordered, "gw.example.net", "client.example.net"));
    }

    /// <summary>strongSwan's credential_manager get_shared: the peer's identity decides, ours only breaks a tie.</summary>
    [Fact]
    public void The_peers_identity_ranks_before_ours()
    {
        var c = Config("""
              gateway: { id: gw.example.net, secret: gateway }
              alice: { id: alice@example.net, secret: alice }
              staff: { id: "*@example.net", secret: staff }
            """);
        Assert.Equal("alice", Key(c, "gw.example.net", "alice@example.net"));
        Assert.Equal("staff", Key(c, "gw.example.net", "bob@example.net"));
        Assert.Equal("gateway", Key(c, "gw.example.net", "carol@example.org"));
    }

    /// <summary>The shipped example: site-a's secret names the gateway's id, which used to win for every roadwarrior.</summary>
    [Fact]
    public void Example_yaml_keys_each_roadwarrior_with_the_roadwarriors_secret()
    {
        var c = ConcentratorConfig.Parse(ConfigTestText.Example, "example.yaml");
        var roadwarriors = c.Secrets.Single(s => s.Name == "ike-roadwarriors").Secret;
        var siteA = c.Secrets.Single(s => s.Name == "ike-site-a").Secret;
        Assert.Equal(roadwarriors, c.FindSharedKey("gw.example.net", "bob@example.net"));
        Assert.Equal(siteA, c.FindSharedKey("gw.example.net", "client.example.net"));
    }

    /// <summary>A peer that sends the FQDN "%any" is a peer named "%any", not a wildcard that matches every secret's owner.</summary>
    [Fact]
    public void A_received_identity_spelled_percent_any_is_no_wildcard()
    {
        var c = Config("""
              alice: { id: alice@example.net, secret: alice }
            """);
        var resolver = new Concentrator.Hosting.ConfigConnectionResolver(c);
        var received = Concentrator.Ike.Connections.Identity.FromPayload(
            new Concentrator.Ike.Wire.IdPayload(Concentrator.Ike.Wire.PayloadType.IdInitiator, Concentrator.Ike.Wire.IdType.Fqdn, "%any"u8.ToArray()));
        Assert.Null(resolver.FindSharedKey(Concentrator.Ike.Connections.Identity.Parse("gw.example.net"), received));
    }

    [Fact]
    public void Exact_match_beats_wildcard_which_beats_any()
    {
        var c = Config("""
              any: { secret: any }
              wildcard: { id: "*@example.net", secret: wildcard }
              exact: { id: alice@example.net, secret: exact }
            """);
        Assert.Equal("exact", Key(c, "gw", "alice@example.net"));
        Assert.Equal("wildcard", Key(c, "gw", "bob@example.net"));
        Assert.Equal("any", Key(c, "gw", "bob@example.org"));
    }

    [Fact]
    public void No_match_returns_null()
    {
        var c = Config("""
              a: { id: a.example.net, secret: a }
            """);
        Assert.Null(c.FindSharedKey("gw.example.net", "b.example.net"));
        Assert.Null(ConcentratorConfig.Parse("", "x").FindSharedKey("a", "b"));
    }

    [Fact]
    public void Any_as_owner_matches_everything_but_as_query_only_any()
    {
        var c = Config("""
              wild: { id: "%any", secret: wild }
            """);
        Assert.Equal("wild", Key(c, "gw", "whoever"));
        Assert.Equal("wild", Key(c, "gw", "%any"));
        // strongSwan's matches_any: a %any query (an initiator whose remote id is %any) is no wildcard over the owners.
        var d = Config("""
              a: { id: a.example.net, secret: a }
            """);
        Assert.Null(Key(d, "gw.example.net", "%any"));
        Assert.Equal("a", Key(d, "a.example.net", "%any"));
    }

    [Fact]
    public void Ids_compare_case_insensitively_and_ip_addresses_by_value()
    {
        var c = Config("""
              fqdn: { id: Client.Example.NET, secret: fqdn }
              ip: { id: "2001:db8::1", secret: ip }
            """);
        Assert.Equal("fqdn", Key(c, "gw", "client.example.net"));
        Assert.Equal("ip", Key(c, "gw", "2001:DB8:0::1"));
    }

    [Fact]
    public void Tie_goes_to_the_secret_loaded_last_and_suffixed_id_keys_count()
    {
        var c = Config("""
              first: { id-1: peer.example.net, id-2: other, secret: first }
              second: { id: peer.example.net, secret: second }
            """);
        Assert.Equal("second", Key(c, "gw", "peer.example.net"));
        Assert.Equal("first", Key(c, "gw", "other"));
        Assert.Equal(["peer.example.net", "other"], c.Secrets[0].Ids.Select(i => i.Text));
    }

    [Fact]
    public void Returned_key_is_a_copy()
    {
        var c = Config("""
              a: { secret: 0x0102 }
            """);
        var key = c.FindSharedKey("x", "y")!;
        Assert.Equal([1, 2], key);
        key[0] = 0;
        Assert.Equal([1, 2], c.FindSharedKey("x", "y"));
    }
}

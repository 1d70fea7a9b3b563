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
        Assert.Equal("peer", Key(c, "other.example.net", "client.example.net"));
        // Only our id matches: "both" and "local-only" tie, the earlier one wins.
        Assert.Equal("both", Key(c, "gw.example.net", "stranger.example.net"));
        var reordered = Config("""
              local-only: { id: gw.example.net, secret: local }
              both: { id: [client.example.net, gw.example.net], secret: both }
            """);
        Assert.Equal("local", Key(reordered, "gw.example.net", "stranger.example.net"));
        Assert.Equal("both", Key(reordered, "gw.example.net", "client.example.net"));
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
    public void Any_matches_everything_both_as_owner_and_as_query()
    {
        var c = Config("""
              wild: { id: "%any", secret: wild }
            """);
        Assert.Equal("wild", Key(c, "gw", "whoever"));
        var d = Config("""
              a: { id: a.example.net, secret: a }
            """);
        Assert.Equal("a", Key(d, "gw.example.net", "%any"));
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
    public void Tie_keeps_the_first_secret_and_suffixed_id_keys_count()
    {
        var c = Config("""
              first: { id-1: peer.example.net, id-2: other, secret: first }
              second: { id: peer.example.net, secret: second }
            """);
        Assert.Equal("first", Key(c, "gw", "peer.example.net"));
        Assert.Equal(["peer.example.net", "other"], c.Secrets[0].Ids);
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

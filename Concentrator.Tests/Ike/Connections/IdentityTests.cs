using System.Text;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Wire;

namespace Concentrator.Tests.Ike.Connections;

/// <summary>
/// <see cref="Identity"/> against strongSwan's own vectors (libstrongswan tests/suites/test_identification.c:
/// test_from_string, test_printf_hook, test_equals, test_matches, test_matches_two_ou, test_matches_string), with the
/// cases where this parser refuses what strongSwan silently mis-encodes.
/// </summary>
public sealed class IdentityTests
{
    private static Identity Received(IdType type, byte[] data) => Identity.FromPayload(new IdPayload(PayloadType.IdInitiator, type, data));

    [Theory]
    [InlineData("")]
    [InlineData("%any")]
    [InlineData("%any6")]
    [InlineData("0.0.0.0")]
    [InlineData("0::0")]
    [InlineData("::")]
    [InlineData("*")]
    public void Any_forms(string text) => Assert.True(Identity.Parse(text).IsAny);

    [Theory]
    [InlineData("any", IdType.Fqdn, "616e79")]
    [InlineData("0", IdType.Fqdn, "30")]
    [InlineData("192.168.", IdType.Fqdn, "3139322e3136382e")]
    [InlineData(".", IdType.Fqdn, "2e")]
    [InlineData("192.168.1.1", IdType.Ipv4Address, "c0a80101")]
    [InlineData("fec0::1", IdType.Ipv6Address, "fec00000000000000000000000000001")]
    [InlineData("fec0:", IdType.KeyId, "666563303a")]
    [InlineData(":", IdType.KeyId, "3a")]
    [InlineData("alice@strongswan.org", IdType.Rfc822Address, "616c69636540737472 6f6e677377616e2e6f7267")]
    [InlineData("alice@", IdType.Rfc822Address, "616c69636540")]
    [InlineData("alice", IdType.Fqdn, "616c696365")]
    [InlineData(" @", IdType.Rfc822Address, "2040")]
    [InlineData("@strongswan.org", IdType.Fqdn, "7374726f6e677377616e2e6f7267")]
    [InlineData("@@tester", IdType.Rfc822Address, "746573746572")]
    [InlineData("@#deadbeef", IdType.KeyId, "deadbeef")]
    [InlineData("@#deadbee", IdType.KeyId, "0deadbee")]
    [InlineData("foo=bar", IdType.KeyId, "666f6f3d626172")]
    [InlineData("foo=", IdType.KeyId, "666f6f3d")]
    [InlineData("=bar", IdType.KeyId, "3d626172")]
    [InlineData("C=", IdType.DerAsn1Dn, "300b3109300706035504061300")]
    [InlineData("C=CH", IdType.DerAsn1Dn, "300d310b3009060355040613024348")]
    [InlineData("C=CH,", IdType.DerAsn1Dn, "300d310b3009060355040613024348")]
    [InlineData("C=CH, ", IdType.DerAsn1Dn, "300d310b3009060355040613024348")]
    [InlineData("C=CH, O", IdType.KeyId, "433d43482c204f")]
    [InlineData("IPv4:#c0a80101", IdType.Ipv4Address, "c0a80101")]
    [InlineData("ipv4:192.168.1.1", IdType.Ipv4Address, "c0a80101")]
    [InlineData("email:tester", IdType.Rfc822Address, "746573746572")]
    [InlineData("rfc822:a@b", IdType.Rfc822Address, "614062")]
    [InlineData("userfqdn:a@b", IdType.Rfc822Address, "614062")]
    [InlineData("fqdn:gw@example", IdType.Fqdn, "6777406578616d706c65")]
    [InlineData("dns:gw", IdType.Fqdn, "6777")]
    [InlineData("keyid:gw", IdType.KeyId, "6777")]
    [InlineData("keyid:#0102", IdType.KeyId, "0102")]
    [InlineData("keyid:^x$", IdType.KeyId, "5e7824")]
    [InlineData("asn1dn:C=CH", IdType.DerAsn1Dn, "300d310b3009060355040613024348")]
    [InlineData("asn1dn:#300d310b3009060355040613024348", IdType.DerAsn1Dn, "300d310b3009060355040613024348")]
    [InlineData("asn1gn:#8102", IdType.DerAsn1Gn, "8102")]
    [InlineData("{1}:#c0a80101", IdType.Ipv4Address, "c0a80101")]
    [InlineData("{0x02}:tester", IdType.Fqdn, "746573746572")]
    [InlineData("CN=*.example.com", IdType.DerAsn1Dn, "30183116301406035504030c0d2a2e6578616d706c652e636f6d")]
    public void Parses_as_strongswan_does(string text, IdType type, string hex)
    {
        var id = Identity.Parse(text);
        Assert.False(id.IsAny);
        Assert.Equal(type, id.Type);
        Assert.Equal(Convert.FromHexString(hex.Replace(" ", "")), id.Data);
        // What is sent is exactly that: the ID payload carries the type and these bytes (a DN as DER).
        var payload = id.ToPayload(PayloadType.IdInitiator);
        Assert.Equal(type, payload.IdType);
        Assert.Equal(id.Data, payload.Data);
    }

    /// <summary>Forms strongSwan turns into something that silently never matches; refused here with the reason.</summary>
    [Theory]
    [InlineData("192.168.1.1/32", "subnet and range")]
    [InlineData("192.168.1.0-192.168.1.40", "subnet and range")]
    [InlineData("fec0::1/128", "subnet and range")]
    [InlineData("ipv4net:192.168.1.0/24", "not supported yet")]
    [InlineData("ipv6range:fec0::1-fec0::2", "not supported yet")]
    [InlineData("xmppaddr:bob@strongswan.org", "not supported yet")]
    [InlineData("uri:https://example.org", "not supported yet")]
    [InlineData("fqdn:^vpn.*\\.strongswan\\.org$", "regular expression")]
    [InlineData("email:^.+@strongswan\\.org$", "regular expression")]
    [InlineData("{99}:somedata", "IKE ID type")]
    [InlineData("{0}:x", "IKE ID type")]
    [InlineData("ipv4:192.168.1", "not an IPv4 address")]
    [InlineData("ipv4:#c0a801", "4 bytes")]
    [InlineData("asn1dn:foo", "not a distinguished name")]
    [InlineData("asn1dn:#0102", "not a DER distinguished name")]
    [InlineData("keyid:#xyz", "not hexadecimal")]
    [InlineData("@", "empty")]
    [InlineData("fqdn:", "empty")]
    [InlineData("**", "wildcard only as the first character")]
    [InlineData("*@*.org", "wildcard only as the first character")]
    [InlineData("vpn.strongswan.*", "wildcard only as the first character")]
    [InlineData("bücher.example", "ASCII")]
    public void Refuses_what_would_never_match(string text, string problem)
    {
        Assert.False(Identity.TryParse(text, out var id, out var error));
        Assert.Null(id);
        Assert.Contains(problem, error);
        Assert.Throws<FormatException>(() => Identity.Parse(text));
    }

    [Theory]
    [InlineData("C=", "C=")]
    [InlineData("C=,", "C=")]
    [InlineData("C= , ", "C=")]
    [InlineData("C=, O=strongSwan", "C=, O=strongSwan")]
    [InlineData("C=CH, O=strongSwan, CN=strongswan.org", "C=CH, O=strongSwan, CN=strongswan.org")]
    [InlineData("cn=strongswan.org, o=strongSwan, c=CH", "CN=strongswan.org, O=strongSwan, C=CH")]
    [InlineData("C=CH,O=strongSwan,CN=strongswan.org", "C=CH, O=strongSwan, CN=strongswan.org")]
    [InlineData("/C=CH/O=strongSwan/CN=strongswan.org", "C=CH, O=strongSwan, CN=strongswan.org")]
    [InlineData("C=CH, email=moon@strongswan.org, CN=moon", "C=CH, E=moon@strongswan.org, CN=moon")]
    [InlineData("C=CH, emailAddress=moon@strongswan.org, CN=moon", "C=CH, E=moon@strongswan.org, CN=moon")]
    [InlineData("moon@strongswan.org", "moon@strongswan.org")]
    [InlineData("192.168.1.1", "192.168.1.1")]
    [InlineData("fec0:0:0::1", "fec0::1")]
    [InlineData("keyid:#0102", "keyid:#0102")]
    [InlineData("%any", "%any")]
    public void Prints_as_strongswan_does(string text, string printed) => Assert.Equal(printed, Identity.Parse(text).Text);

    [Fact]
    public void Received_dns_print_unknown_attributes_by_oid_and_malformed_ones_as_bytes()
    {
        // C=CH, telexNumber=123 (2.5.4.21 is not in the table).
        var telex = Received(IdType.DerAsn1Dn, Convert.FromHexString("301931173009060355040613024348300a06035504151303313233"));
        Assert.Equal("C=CH, 2.5.4.21=123", telex.Text);
        // C=CH, O=strongSwan with NULL (0x05) where the second OID belongs: not a DN, compared as bytes only.
        var broken = Convert.FromHexString("30203 11e3009060355040613024348301105035504 0a130a7374726f6e675377616e".Replace(" ", ""));
        var malformed = Received(IdType.DerAsn1Dn, broken);
        Assert.StartsWith("asn1dn:#", malformed.Text);
        Assert.Equal(IdMatch.None, Identity.Parse("C=CH, O=strongSwan").Match(malformed));
        Assert.Equal(IdMatch.Perfect, Received(IdType.DerAsn1Dn, broken).Match(malformed));
    }

    [Theory]
    [InlineData("C=CH, E=moon@strongswan.org, CN=moon")]
    [InlineData("C=CH, email=moon@strongswan.org, CN=moon")]
    [InlineData("C=CH, emailAddress=moon@strongswan.org, CN=moon")]
    [InlineData("C==CH , E==moon@strongswan.org , CN==moon")]
    [InlineData("  C=CH, E=moon@strongswan.org, CN=moon  ")]
    [InlineData("C=ch, E=moon@STRONGSWAN.ORG, CN=Moon")]
    [InlineData("/C=CH/E=moon@strongswan.org/CN=moon")]
    [InlineData(" / C=CH / E=moon@strongswan.org / CN=moon")]
    public void Equal_dns(string text)
    {
        var a = Identity.Parse("C=CH, E=moon@strongswan.org, CN=moon");
        var b = Identity.Parse(text);
        Assert.Equal(a, b);
        Assert.Equal(b, a);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Theory]
    [InlineData("C=CH/E=moon@strongswan.org/CN=moon")]
    [InlineData("C=CH/E=moon@strongswan.org,CN=moon")]
    [InlineData("C=CH E=moon@strongswan.org CN=moon")]
    [InlineData("C=CN, E=moon@strongswan.org, CN=moon")]
    [InlineData("E=moon@strongswan.org, C=CH, CN=moon")]
    [InlineData("%any")]
    public void Unequal_dns(string text)
    {
        var a = Identity.Parse("C=CH, E=moon@strongswan.org, CN=moon");
        var b = Identity.Parse(text);
        Assert.NotEqual(a, b);
        Assert.NotEqual(b, a);
    }

    /// <summary>strongSwan's test_equals fuzzing: any byte of the DER one up or down is another identity (ASN.1 string types aside).</summary>
    [Fact]
    public void A_dn_with_any_byte_changed_is_another_identity()
    {
        var a = Identity.Parse("C=CH, E=moon@strongswan.org, CN=moon");
        for (int i = 0; i < a.Data.Length; i++)
        {
            if (i is 11 or 30 or 60) continue;
            foreach (int delta in new[] { 1, -1 })
            {
                var fuzzed = (byte[])a.Data.Clone();
                fuzzed[i] = (byte)(fuzzed[i] + delta);
                var b = Received(IdType.DerAsn1Dn, fuzzed);
                Assert.False(a.Equals(b), $"byte {i} {delta:+0;-0}");
                Assert.False(b.Equals(a), $"byte {i} {delta:+0;-0}");
                Assert.NotEqual(IdMatch.Perfect, a.Match(b));
            }
        }
    }

    [Theory]
    [InlineData("C=CH, E=moon@strongswan.org, CN=moon", IdMatch.Perfect)]
    [InlineData("C=CH, email=moon@strongswan.org, CN=moon", IdMatch.Perfect)]
    [InlineData("CN=moon, C=CH, E=moon@strongswan.org", IdMatch.None)]
    [InlineData("C=CH, E=*@strongswan.org, CN=moon", IdMatch.None)]
    [InlineData("C=CH, E=*, CN=moon", IdMatch.OneWildcard)]
    [InlineData("C=CH, E=*, CN=*", IdMatch.OneWildcard - 1)]
    [InlineData("C=*, E=*, CN=*", IdMatch.OneWildcard - 2)]
    [InlineData("C=*, E=*, CN=*, O=BADInc", IdMatch.None)]
    [InlineData("C=CH, CN=*", IdMatch.None)]
    [InlineData("C=*, E=*", IdMatch.None)]
    [InlineData("C=*, E=a@b.c, CN=*", IdMatch.None)]
    [InlineData("C=CH, O=strongSwan, E=*, CN=*", IdMatch.None)]
    [InlineData("", IdMatch.Any)]
    [InlineData("%any", IdMatch.Any)]
    public void Dn_patterns_match_as_strongswan(string pattern, IdMatch expected)
    {
        var received = Received(IdType.DerAsn1Dn, Identity.Parse("C=CH, E=moon@strongswan.org, CN=moon").Data);
        Assert.Equal(expected, Identity.Parse(pattern).Match(received));
    }

    [Theory]
    [InlineData("C=CH, OU=Research, OU=Floor A, CN=moon", IdMatch.Perfect)]
    [InlineData("C=CH, OU=Floor A, CN=moon", IdMatch.None)]
    [InlineData("C=CH, CN=moon", IdMatch.None)]
    [InlineData("C=CH, OU=*, CN=moon", IdMatch.None)]
    [InlineData("C=CH, OU=*, OU=*, CN=moon", IdMatch.OneWildcard - 1)]
    [InlineData("C=CH, OU=Research, OU=*, CN=moon", IdMatch.OneWildcard)]
    [InlineData("C=CH, OU=*, OU=Floor A, CN=moon", IdMatch.OneWildcard)]
    [InlineData("C=CH, OU=*, OU=Research, CN=moon", IdMatch.None)]
    [InlineData("C=CH, OU=Floor A, OU=Research, CN=moon", IdMatch.None)]
    public void Dn_patterns_with_two_ous(string pattern, IdMatch expected) =>
        Assert.Equal(expected, Identity.Parse(pattern).Match(Identity.Parse("C=CH, OU=Research, OU=Floor A, CN=moon")));

    [Theory]
    [InlineData("moon@strongswan.org", "moon@strongswan.org", IdMatch.Perfect)]
    [InlineData("moon@strongswan.org", "MOON@strongswan.ORG", IdMatch.Perfect)]
    [InlineData("moon@strongswan.org", "*@strongswan.org", IdMatch.OneWildcard)]
    [InlineData("moon@strongswan.org", "*strongswan.org", IdMatch.None)] // an FQDN pattern, another type
    [InlineData("moon@strongswan.org", "*.org", IdMatch.None)]
    [InlineData("moon@strongswan.org", "*", IdMatch.Any)]
    [InlineData("moon@strongswan.org", "%any", IdMatch.Any)]
    [InlineData("vpn.strongswan.org", "vpn.strongswan.org", IdMatch.Perfect)]
    [InlineData("vpn.strongswan.org", "*.strongswan.org", IdMatch.OneWildcard)]
    [InlineData("vpn.strongswan.org", "*strongswan.org", IdMatch.OneWildcard)]
    [InlineData("vpn.strongswan.org", "*.org", IdMatch.OneWildcard)]
    [InlineData("vpn.strongswan.org", "*vpn.strongswan.org", IdMatch.None)]
    [InlineData("vpn.strongswan.org", "fqdn:*", IdMatch.Any)]
    [InlineData("vpn.strongswan.org", "email:*", IdMatch.None)]
    [InlineData("foo=bar", "foo=bar", IdMatch.Perfect)]
    [InlineData("foo=bar", "bar=foo", IdMatch.None)]
    [InlineData("foo=bar", "%any", IdMatch.Any)]
    [InlineData("192.168.1.1", "192.168.1.1", IdMatch.Perfect)]
    [InlineData("192.168.1.1", "192.168.1.2", IdMatch.None)]
    [InlineData("192.168.1.1", "fqdn:192.168.1.1", IdMatch.None)]
    [InlineData("fec0::1", "fec0:0::1", IdMatch.Perfect)]
    public void String_and_binary_patterns_match_as_strongswan(string concrete, string pattern, IdMatch expected)
    {
        var id = Identity.Parse(concrete);
        var received = Received(id.Type, id.Data);
        Assert.Equal(expected, Identity.Parse(pattern).Match(received));
    }

    /// <summary>Only a configured identity is a pattern: what a peer sends, however it is spelled, is one name.</summary>
    [Theory]
    [InlineData(IdType.Fqdn, "%any", "gw.example.net")]
    [InlineData(IdType.Fqdn, "*", "gw.example.net")]
    [InlineData(IdType.Rfc822Address, "*@example.net", "alice@example.net")]
    [InlineData(IdType.Fqdn, "*.example.net", "gw.example.net")]
    [InlineData(IdType.DerAsn1Dn, "C=CH, O=Example, CN=*", "C=CH, O=Example, CN=gw")]
    public void A_received_identity_is_never_a_pattern(IdType type, string sent, string configured)
    {
        var data = type == IdType.DerAsn1Dn ? Identity.Parse(sent).Data : Encoding.ASCII.GetBytes(sent);
        var received = Received(type, data);
        Assert.False(received.IsAny);
        Assert.Equal(IdMatch.None, Identity.Parse(configured).Match(received));
        // It still matches itself and the configured wildcard.
        Assert.Equal(IdMatch.Perfect, Identity.Parse(type == IdType.DerAsn1Dn ? sent : (type == IdType.Fqdn ? "fqdn:" : "email:") + sent).Match(received));
        Assert.Equal(IdMatch.Any, Identity.AnyIdentity.Match(received));
    }

    [Fact]
    public void Any_as_a_concrete_identity_matches_only_any()
    {
        Assert.Equal(IdMatch.Any, Identity.Parse("%any").Match(Identity.AnyIdentity));
        Assert.Equal(IdMatch.None, Identity.Parse("moon@strongswan.org").Match(Identity.AnyIdentity));
        Assert.Equal(IdMatch.None, Identity.Parse("*.strongswan.org").Match(Identity.AnyIdentity));
        Assert.Throws<InvalidOperationException>(() => Identity.AnyIdentity.ToPayload(PayloadType.IdInitiator));
    }

    [Theory]
    [InlineData("%any", true)]
    [InlineData("*.example.net", true)]
    [InlineData("*@example.net", true)]
    [InlineData("C=CH, CN=*", true)]
    [InlineData("CN=*.example.com", false)] // only a whole "*" RDN value is a wildcard
    [InlineData("gw.example.net", false)]
    [InlineData("C=CH, CN=gw", false)]
    [InlineData("keyid:*", false)]
    public void Contains_wildcards(string text, bool expected) => Assert.Equal(expected, Identity.Parse(text).ContainsWildcards);

    [Fact]
    public void Hashes_agree_with_equality()
    {
        Assert.Equal(Identity.Parse("vpn.strongswan.org").GetHashCode(), Identity.Parse("VPN.strongswan.org").GetHashCode());
        Assert.Equal(Identity.Parse("C=CH").GetHashCode(), Identity.Parse("C=ch").GetHashCode());
        Assert.NotEqual(Identity.Parse("fqdn:strongswan.org"), Identity.Parse("keyid:strongswan.org"));
        Assert.NotEqual(Identity.Parse("vpn.strongswan.org"), Identity.Parse("*.strongswan.org"));
    }

    /// <summary>Hostile DER never throws: every prefix of a valid DN and random bytes parse to some identity.</summary>
    [Fact]
    public void Received_dn_bytes_never_throw()
    {
        var dn = Identity.Parse("C=CH, O=strongSwan, OU=Research, CN=moon").Data;
        var pattern = Identity.Parse("C=CH, O=strongSwan, OU=*, CN=*");
        for (int n = 1; n <= dn.Length; n++)
        {
            var received = Received(IdType.DerAsn1Dn, dn[..n]);
            Assert.Equal(n == dn.Length ? IdMatch.OneWildcard - 1 : IdMatch.None, pattern.Match(received));
        }
        var random = new Random(14);
        for (int n = 0; n < 2000; n++)
        {
            var bytes = new byte[random.Next(1, 64)];
            random.NextBytes(bytes);
            if (n % 2 == 0) bytes[0] = 0x30;
            var received = Received(IdType.DerAsn1Dn, bytes);
            Assert.NotNull(received.Text);
            Assert.Equal(IdMatch.None, pattern.Match(received));
        }
    }
}

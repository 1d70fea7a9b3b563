using Concentrator.Hosting;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Hosting;

/// <summary>
/// EAP through the hosts (issue 16): two gateways in process, the road warrior's with local.auth eap-mschapv2, the
/// responder's with remote.auth eap-mschapv2, so each EAP step runs as IkeSaActor runs it (RunEap awaited off the SA,
/// resumed by message) and the operator's listing shows the user.
/// </summary>
public sealed class EapGatewayTests
{
    private static string Responder => TestGateway.ResponderYaml().Replace("remote: { auth: psk, id: \"%any\" }",
        "remote: { auth: eap-mschapv2, eap_id: \"%any\" }", StringComparison.Ordinal) + "\n  eap-alice: { id: alice, secret: alice-password }\n";

    private static string Initiator(string password) => TestGateway.InitiatorYaml().Replace("local: { auth: psk, id: site.test }",
        "local: { auth: eap-mschapv2, id: site.test, eap_id: alice }", StringComparison.Ordinal) + $"\n  eap-alice: {{ id: alice, secret: {password} }}\n";

    [Fact(Timeout = 60_000)]
    public async Task A_road_warrior_logs_in_by_eap_through_the_actors_and_the_listing_names_its_user()
    {
        await using var gw = TestGateway.Start(Responder, name: "gw");
        await using var peer = TestGateway.Start(Initiator("alice-password"), name: "peer");
        peer.Initiate("site", gw.Gateway.IkeEndpoint);
        await Eventually.TrueAsync(() => peer.Events.Up.Count == 1 && gw.DataPlane.InstalledCount == 1, "the EAP tunnel is up", 15);
        var sa = Assert.Single(await AdminApi.ListAsync(gw.Gateway));
        Assert.Equal("alice", sa.EapId);
        Assert.Equal("site.test", sa.RemoteId);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_wrong_password_leaves_no_sa_on_either_end()
    {
        await using var gw = TestGateway.Start(Responder, name: "gw");
        await using var peer = TestGateway.Start(Initiator("wrong-password"), name: "peer");
        peer.Initiate("site", gw.Gateway.IkeEndpoint);
        await Eventually.TrueAsync(async () => await gw.Gateway.CountSasAsync() == 0 && await peer.Gateway.CountSasAsync() == 0 && peer.Events.Up.Count == 0 &&
            Scrape(gw).Contains("concentrator_logins_total{method=\"eap-mschapv2\",outcome=\"eap_failed\"} 1"), "refused on both ends", 15);
        Assert.Equal(0, gw.DataPlane.InstalledCount);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("replace")]
    [InlineData("keep")]
    public async Task Unique_applies_to_the_eap_user_after_the_last_round_not_to_the_ike_identity(string unique)
    {
        // Two laptops with their own IKE identities, one user: the duplicate is found by the EAP identity.
        string responder = Responder.Replace("    local: { auth: psk, id: gw.test }", $"    unique: {unique}\n    local: {{ auth: psk, id: gw.test }}", StringComparison.Ordinal);
        Assert.Contains($"unique: {unique}", responder);
        static string Laptop(string id) => Initiator("alice-password").Replace("id: site.test, eap_id: alice", $"id: {id}, eap_id: alice", StringComparison.Ordinal)
            .Replace("    remote_addrs:", "    unique: never\n    remote_addrs:", StringComparison.Ordinal);
        await using var gw = TestGateway.Start(responder, name: "gw");
        await using var first = TestGateway.Start(Laptop("laptop-1.test"), name: "first");
        await using var second = TestGateway.Start(Laptop("laptop-2.test"), name: "second");

        first.Initiate("site", gw.Gateway.IkeEndpoint);
        await Eventually.TrueAsync(() => first.Events.Up.Count == 1, "the first login is up", 15);
        second.Initiate("site", gw.Gateway.IkeEndpoint);
        if (unique == "replace")
        {
            await Eventually.TrueAsync(() => second.Events.Up.Count == 1 && first.Events.Down.Count == 1, "the second login replaced the first", 15);
            var sa = Assert.Single(await AdminApi.ListAsync(gw.Gateway));
            Assert.Equal(("laptop-2.test", "alice"), (sa.RemoteId, sa.EapId));
        }
        else
        {
            await Eventually.TrueAsync(() => second.Events.Down.Count == 1, "the second login was refused", 15);
            Assert.Empty(second.Events.Up);
            var sa = Assert.Single(await AdminApi.ListAsync(gw.Gateway));
            Assert.Equal(("laptop-1.test", "alice"), (sa.RemoteId, sa.EapId));
        }
    }

    private static string Scrape(TestGateway gateway)
    {
        using var stream = new MemoryStream();
        gateway.Gateway.Metrics.Registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}

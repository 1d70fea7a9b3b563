using System.Net;
using System.Text.RegularExpressions;
using Concentrator.Tests.Ike.Exchanges;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Actors;

/// <summary>Child SA lifetimes drive rekeys through the actors (named timers), over loopback UDP.</summary>
public sealed class LifetimeTests
{
    private static string WithChildKeys(string yaml, string keys) =>
        Regex.Replace(yaml, @"^( *)esp_proposals: (.*)$", m => $"{m.Value}\n{m.Groups[1].Value}{keys.Replace("\n", "\n" + m.Groups[1].Value)}",
            RegexOptions.Multiline);

    [Fact]
    public async Task Rekey_time_rekeys_repeatedly_keeping_one_working_child_per_side()
    {
        await using var responder = TestGateway.Start(WithChildKeys(TestGateway.ResponderYaml(), "rekey_time: 2s"), name: "resp");
        await using var initiator = TestGateway.Start(WithChildKeys(TestGateway.InitiatorYaml(), "rekey_time: 2s"), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "child installed");

        var spis = new HashSet<uint>(initiator.DataPlane.InstalledSpis());
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (spis.Count < 4 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            foreach (var spi in initiator.DataPlane.InstalledSpis()) spis.Add(spi);
        }

        Assert.True(spis.Count >= 4, $"at least 3 rekeys within 20 s (saw {spis.Count - 1})");
        // Between rekeys each side settles on exactly one Child SA and the tunnel still carries ESP.
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "one child per side");
        LoopbackExchangeTests.AssertEspFlows(initiator.DataPlane, responder.DataPlane, IPAddress.Parse("10.200.1.3"), IPAddress.Parse("10.10.0.3"));
        Assert.Single(initiator.Events.Up);
        Assert.Empty(initiator.Events.Down);
    }

    [Fact]
    public async Task Rekey_bytes_rekeys_the_child_by_volume()
    {
        await using var responder = TestGateway.Start(TestGateway.ResponderYaml(), name: "resp");
        await using var initiator = TestGateway.Start(WithChildKeys(TestGateway.InitiatorYaml(), "rekey_bytes: 2k\nlife_bytes: 1M"), name: "init");
        initiator.Initiate("site", responder.Endpoint);
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledCount == 1 && responder.DataPlane.InstalledCount == 1, "child installed");
        uint first = initiator.DataPlane.InstalledSpis().Single();

        // 30 packets of ~100 bytes pass 2 KiB: the next counter pull asks for a rekey.
        for (int n = 0; n < 30; n++)
        {
            LoopbackExchangeTests.AssertEspFlows(initiator.DataPlane, responder.DataPlane, IPAddress.Parse("10.200.1.3"), IPAddress.Parse("10.10.0.3"));
        }
        initiator.DataPlane.FlushAll();
        await Eventually.TrueAsync(() => initiator.DataPlane.InstalledSpis() is { Count: 1 } s && s.Single() != first, "the child was rekeyed by volume");
        await Eventually.TrueAsync(() => responder.DataPlane.InstalledCount == 1, "the responder dropped the old SA");
    }
}

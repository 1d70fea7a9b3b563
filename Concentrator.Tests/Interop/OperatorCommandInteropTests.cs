using System.Text.Json;
using System.Text.RegularExpressions;
using Concentrator.Hosting;
using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>
/// The operator's commands against a stock strongSwan responder (issue 18): <c>initiate</c> waits and says so, <c>sas</c>
/// names the negotiated suite as strongSwan's own <c>swanctl --list-sas</c> does, <c>rekey --child</c> gives both ends new
/// SPIs while traffic continues, and <c>terminate</c> returns once the peer has no SA left.
/// </summary>
[Collection(InteropCollection.Name)]
[Trait("Category", "Root")]
public sealed partial class OperatorCommandInteropTests(ITestOutputHelper output)
{
    private const string Ike = "aes256-sha256-prfsha256-modp2048";
    private const string Esp = "aes128-sha256";
    private const string Admin = "http://127.0.0.1:9400/";

    [Fact(Timeout = 120_000)]
    [Trait("Category", "Root")]
    public async Task Initiate_sas_rekey_and_terminate_against_a_strongswan_responder_Root()
    {
        if (!InteropPrerequisites.Check(output, needDotnet: true)) return;
        await using var scope = InteropScope.Create(output, budgetSeconds: 100);
        var bed = scope.Bed;

        var peer = scope.Own(await StrongSwan.StartAsync(bed.Peer, bed.Dir("charon-peer"), "peer"));
        scope.AddDiagnostics("charon peer", () => peer.Diagnostics());
        await peer.LoadAsync(SwanctlConf.Connection("gw", bed.PeerOuter, "%any", SwanctlConf.PeerId, SwanctlConf.GatewayId,
            Ike, "net", NamespaceTestbed.PeerInnerSubnet, NamespaceTestbed.LanSubnet, Esp));
        var gateway = scope.Own(await ConcentratorProcess.StartAsync(bed.Gateway, bed.Dir("concentrator"),
            ConcentratorYaml.Connection(NamespaceTestbed.GatewayOuter, bed.PeerOuter, SwanctlConf.GatewayId, SwanctlConf.PeerId, Ike, Esp,
                NamespaceTestbed.LanSubnet, NamespaceTestbed.PeerInnerSubnet, startAction: "none", name: "site"),
            scope.Remaining(TimeSpan.FromSeconds(25))));
        scope.AddDiagnostics("concentrator", () => gateway.Diagnostics());
        Assert.Empty(await peer.ListSasAsync());

        // initiate waits for the Child SA and says so as swanctl does.
        var initiate = await Cli(bed, scope, "initiate", "--child", "net", "--timeout", "30");
        Assert.True(initiate.Ok, "initiate: " + initiate);
        Assert.EndsWith("initiate completed successfully\n", initiate.Stdout);
        var installed = await peer.WaitInstalledAsync("gw", "net", TimeSpan.FromSeconds(3));
        Assert.True(installed is not null, "initiate returned before the peer had the Child SA");
        var before = installed!.Value.Child;

        // sas names the suites exactly as the peer's swanctl --list-sas does.
        var peerText = (await peer.SwanctlAsync(["--list-sas"])).Stdout;
        scope.Log("peer swanctl --list-sas:\n" + peerText);
        string ikeLine = IkeSuiteLine().Match(peerText).Groups["suite"].Value;
        string espSuite = EspSuite().Match(peerText).Groups["suite"].Value;
        Assert.Equal("AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048", ikeLine);
        Assert.Equal("AES_CBC-128/HMAC_SHA2_256_128", espSuite);
        var sas = await Cli(bed, scope, "sas");
        scope.Log("concentrator sas:\n" + sas.Stdout);
        Assert.Contains($"\n  {ikeLine}\n", sas.Stdout);
        string mode = ChildMode().Match(peerText).Groups["mode"].Value;
        Assert.StartsWith("TUNNEL", mode);
        Assert.Contains($"net: INSTALLED, {mode}, ESP:{espSuite}\n", sas.Stdout);
        await PingAsync(bed, scope);

        // rekey --child: new SPIs on both ends, the old pair gone, traffic on.
        var rekey = await Cli(bed, scope, "rekey", "--child", "net", "--timeout", "30");
        Assert.True(rekey.Ok, "rekey: " + rekey);
        Assert.EndsWith("rekey completed successfully\n", rekey.Stdout);
        var view = JsonSerializer.Deserialize((await Cli(bed, scope, "sas", "--json")).Stdout, AdminJson.Default.ListSaView)!;
        var ours = Assert.Single(Assert.Single(view).Children, c => c.State == "INSTALLED");
        ChildSaInfo? after = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline && after is null)
        {
            after = (await peer.ListSasAsync()).SelectMany(s => s.Children)
                .FirstOrDefault(c => c.State == "INSTALLED" && Underlay.NormalizeSpi(c.SpiIn) == ours.OutboundSpi);
            if (after is null) await Task.Delay(200);
        }
        Assert.True(after is not null, $"the peer has no INSTALLED Child SA with our new outbound SPI {ours.OutboundSpi}");
        Assert.Equal(ours.InboundSpi, Underlay.NormalizeSpi(after!.SpiOut));
        Assert.NotEqual(Underlay.NormalizeSpi(before.SpiIn), Underlay.NormalizeSpi(after.SpiIn));
        Assert.NotEqual(Underlay.NormalizeSpi(before.SpiOut), Underlay.NormalizeSpi(after.SpiOut));
        await PingAsync(bed, scope);

        // terminate returns once the peer answered the Delete: nothing left on either end.
        var terminate = await Cli(bed, scope, "terminate", "--ike", "site", "--timeout", "30");
        Assert.True(terminate.Ok, "terminate: " + terminate);
        Assert.EndsWith("terminate completed successfully\n", terminate.Stdout);
        Assert.Empty(await peer.ListSasAsync());
        Assert.Empty(gateway.EventsWithId(ConcentratorProcess.ActorFailed));
        scope.Passed();
    }

    private static async Task<CommandResult> Cli(NamespaceTestbed bed, InteropScope scope, params string[] args)
    {
        var r = await bed.Gateway.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(45)), ["dotnet", ConcentratorProcess.AssemblyPath, .. args, "--admin", Admin]);
        scope.Log($"concentrator {string.Join(' ', args)}: exit {r.ExitCode}");
        return r;
    }

    private static async Task PingAsync(NamespaceTestbed bed, InteropScope scope)
    {
        var ping = await bed.Lan.ExecAsync(scope.Remaining(TimeSpan.FromSeconds(15)), "ping", "-n", "-c", "3", "-i", "0.3", "-W", "2", NamespaceTestbed.PeerInner);
        scope.Log("ping LAN -> peer inner: " + PingOutput.Summary(ping));
        Assert.True(ping.Ok, "ping through the tunnel failed: " + ping);
    }

    /// <summary>swanctl's IKE algorithm line: two spaces, the suite, nothing else.</summary>
    [GeneratedRegex(@"^  (?<suite>[A-Z0-9_]+-\d+/[A-Z0-9_/]+)$", RegexOptions.Multiline)]
    private static partial Regex IkeSuiteLine();

    [GeneratedRegex(@", ESP:(?<suite>\S+)")]
    private static partial Regex EspSuite();

    /// <summary>swanctl's child mode: TUNNEL, or TUNNEL-in-UDP when ESP travels in UDP.</summary>
    [GeneratedRegex(@"INSTALLED, (?<mode>TUNNEL(-in-UDP)?), ESP:")]
    private static partial Regex ChildMode();
}

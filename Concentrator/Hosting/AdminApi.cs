using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.Ipsec;

namespace Concentrator.Hosting;

/// <summary>One IKE SA as the operator commands show it (never key material).</summary>
/// <param name="RemoteCertificate">The subject of the peer's certificate (pubkey authentication); null for a PSK peer.</param>
/// <param name="VirtualIps">Leased to the peer (we are the responder) or assigned to us (initiator).</param>
/// <param name="EapId">The identity the peer proved by EAP (swanctl's remote-eap-id); null when it did not log in by EAP.</param>
public sealed record SaView(string Connection, string Spi, string State, string Role, string Remote, string RemoteId, string Proposal,
    double AgeSeconds, IReadOnlyList<ChildView> Children, string? RemoteCertificate = null, IReadOnlyList<string>? VirtualIps = null,
    string? EapId = null);

public sealed record ChildView(string Name, string InboundSpi, string OutboundSpi, string Suite, IReadOnlyList<string> LocalTs,
    IReadOnlyList<string> RemoteTs, ulong BytesIn, ulong PacketsIn, ulong BytesOut, ulong PacketsOut);

[JsonSerializable(typeof(List<SaView>))]
[JsonSerializable(typeof(AdminResult))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
public sealed partial class AdminJson : JsonSerializerContext;

public sealed record AdminResult(bool Ok, string Message);

/// <summary>
/// The local admin endpoint behind <c>Concentrator sas|initiate|terminate</c>, on the http.listen address. It answers
/// loopback clients only, whatever address http.listen binds (in a pod: <c>kubectl exec</c>); with
/// CONCENTRATOR_ADMIN_TOKEN set (allowed with a loopback http.listen only, <see cref="HttpConfig.AdminToken"/>) every
/// request must also carry the token as a bearer token. <see cref="AdminGate"/> checks both before a handler runs.
/// </summary>
public static class AdminApi
{
    public static void Map(WebApplication app, Gateway gateway, string? token)
    {
        var gate = new AdminGate(token, gateway.Options.Config.Charon.AdminRate, gateway.Metrics.Limits);
        app.Lifetime.ApplicationStopped.Register(gate.Dispose);

        app.MapGet("/admin/sas", async (HttpContext http) => gate.Admit(http) ??
            Results.Text(JsonSerializer.Serialize(await ListAsync(gateway), AdminJson.Default.ListSaView), "application/json"));
        app.MapPost("/admin/initiate", async (HttpContext http, string child) => gate.Admit(http) ?? Reply(await InitiateAsync(gateway, child)));
        app.MapPost("/admin/terminate", async (HttpContext http, string? ike, string? child) =>
            gate.Admit(http) ?? Reply(await TerminateAsync(gateway, ike, child)));
    }

    private static IResult Reply(AdminResult r) =>
        Results.Text(JsonSerializer.Serialize(r, AdminJson.Default.AdminResult), "application/json", statusCode: r.Ok ? 200 : 404);

    public static async Task<List<SaView>> ListAsync(Gateway gateway)
    {
        var result = new List<SaView>();
        foreach (var info in await InfosAsync(gateway))
        {
            var children = info.Children.Select(c =>
            {
                gateway.Options.DataPlane.TryGetCounters(c.InboundSpi, out var n);
                return new ChildView(c.Child, $"{c.InboundSpi:x8}", $"{c.OutboundSpi:x8}", $"{c.Suite.Encryption}-{c.Suite.KeyBits}",
                    c.LocalTs.Select(Format).ToList(), c.RemoteTs.Select(Format).ToList(), n.BytesIn, n.PacketsIn, n.BytesOut, n.PacketsOut);
            }).ToList();
            result.Add(new SaView(info.Connection, $"{info.Spi:x16}", info.State.ToString(), info.Initiator ? "initiator" : "responder",
                info.Remote.ToString(), info.RemoteId, info.Proposal, Math.Round(info.Age.TotalSeconds, 1), children, info.RemoteCertificate,
                    info.VirtualIps ?? [], info.EapId));
        }
        return result;
    }

    private static async Task<AdminResult> InitiateAsync(Gateway gateway, string child)
    {
        foreach (var conn in gateway.Options.Config.Connections.Values)
        {
            if (!conn.Children.TryGetValue(child, out var config)) continue;
            // Under an existing IKE SA of the connection: CREATE_CHILD_SA; otherwise a new IKE SA.
            foreach (var (actor, info) in await ActorsAsync(gateway))
            {
                if (info.Connection != conn.Name || info.State != IkeSaState.Established) continue;
                actor.Tell(new IkeSaActor.CreateChildSa(config));
                return new AdminResult(true, $"creating child {child} under IKE SA {info.Spi:x16}");
            }

            if (!gateway.TryInitiate(conn, [config])) return new AdminResult(false, $"connection {conn.Name} has no concrete remote_addrs");
            return new AdminResult(true, $"initiating {conn.Name} with child {child}");
        }
        return new AdminResult(false, $"no child named '{child}' in the configuration");
    }

    private static async Task<AdminResult> TerminateAsync(Gateway gateway, string? ike, string? child)
    {
        int n = 0;
        foreach (var (actor, info) in await ActorsAsync(gateway))
        {
            if (ike is not null && info.Connection == ike)
            {
                actor.Tell(IkeSaActor.DeleteIkeSa.Instance);
                n++;
            }
            else if (child is not null)
            {
                foreach (var c in info.Children.Where(c => c.Child == child))
                {
                    actor.Tell(new IkeSaActor.DeleteChildSa(c.InboundSpi));
                    n++;
                }
            }
        }
        return n > 0 ? new AdminResult(true, $"deleting {n} SA(s)") : new AdminResult(false, "no matching SA");
    }

    private static async Task<List<IkeSaActor.Info>> InfosAsync(Gateway gateway) => (await ActorsAsync(gateway)).Select(a => a.Info).ToList();

    private static async Task<List<(IActorRef Actor, IkeSaActor.Info Info)>> ActorsAsync(Gateway gateway)
    {
        var actors = await gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5));
        var result = new List<(IActorRef, IkeSaActor.Info)>();
        foreach (var actor in actors)
        {
            try
            {
                result.Add((actor, await actor.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(2))));
            }
            catch (AskTimeoutException)
            {
                // An SA that stopped meanwhile is simply not listed.
            }
        }
        return result;
    }

    private static string Format(TrafficSelector ts) =>
        ts.StartAddress.Equals(ts.EndAddress) ? ts.StartAddress.ToString() : $"{ts.StartAddress}-{ts.EndAddress}";
}

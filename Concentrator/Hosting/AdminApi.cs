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
/// <param name="UniqueId">This node's number of the tunnel (swanctl's #N; <c>terminate --ike-id</c>).</param>
/// <param name="EapId">The identity the peer proved by EAP (swanctl's remote-eap-id); null when it did not log in by EAP.</param>
/// <param name="User">Who the SA belongs to: the EAP identity, else the peer's IKE identity.</param>
/// <param name="Proposal">The negotiated algorithms as swanctl --list-sas prints them (<see cref="SwanctlNames.Ike"/>).</param>
/// <param name="EstablishedSeconds">Since IKE_AUTH completed (or the rekey that made this SA); null while it is not established.</param>
/// <param name="RekeySeconds">Until its rekey (rekey_time less the drawn rand_time part); null when none is scheduled. Likewise
/// <paramref name="ReauthSeconds"/> and <paramref name="ExpiresSeconds"/> (rekey_time + over_time).</param>
public sealed record SaView(string Connection, string Spi, string State, string Role, string Remote, string RemoteId, string Proposal,
    double AgeSeconds, IReadOnlyList<ChildView> Children, string? RemoteCertificate = null, IReadOnlyList<string>? VirtualIps = null,
    long UniqueId = 0, string LocalId = "", string User = "", string? EapId = null, long? EstablishedSeconds = null,
    long? RekeySeconds = null, long? ReauthSeconds = null, long? ExpiresSeconds = null);

/// <summary>One configured connection as <c>list-conns</c> shows it (swanctl --list-conns), never a secret.</summary>
public sealed record ConnView(string Name, IReadOnlyList<string> LocalAddrs, IReadOnlyList<string> RemoteAddrs, string Unique,
    IReadOnlyList<string> Proposals, IReadOnlyList<string> Pools, IReadOnlyList<AuthView> Local, IReadOnlyList<AuthView> Remote,
    IReadOnlyList<ChildConfView> Children, string Childless = "allow");

/// <summary>One authentication round: its method, identity, our certificate (local) or the CAs trusted (remote).</summary>
public sealed record AuthView(string Auth, string Id, IReadOnlyList<string> Certs, IReadOnlyList<string> CaCerts);

public sealed record ChildConfView(string Name, string Mode, IReadOnlyList<string> LocalTs, IReadOnlyList<string> RemoteTs,
    IReadOnlyList<string> EspProposals, string? Updown = null, uint IfIdIn = 0, uint IfIdOut = 0);

/// <param name="Suite">The algorithms as swanctl prints them after <c>ESP:</c> (<see cref="SwanctlNames.Esp"/>).</param>
/// <param name="State">swanctl's child state from the Child SA table (<see cref="SwanctlNames.ChildState"/>).</param>
/// <param name="RekeySeconds">Until its rekey timer; null when none. <paramref name="ExpiresSeconds"/>: until life_time.</param>
/// <param name="Encap">Its ESP travels in UDP (RFC 3948; swanctl's "-in-UDP").</param>
public sealed record ChildView(string Name, string InboundSpi, string OutboundSpi, string Suite, IReadOnlyList<string> LocalTs,
    IReadOnlyList<string> RemoteTs, ulong BytesIn, ulong PacketsIn, ulong BytesOut, ulong PacketsOut, string Mode = "tunnel",
    uint IfIdIn = 0, uint IfIdOut = 0, string State = "INSTALLED", long InstalledSeconds = 0, long? RekeySeconds = null,
    long? ExpiresSeconds = null, bool Encap = false);

[JsonSerializable(typeof(List<SaView>))]
[JsonSerializable(typeof(List<ConnView>))]
[JsonSerializable(typeof(AdminResult))]
[JsonSerializable(typeof(StatsView))]
[JsonSerializable(typeof(ReloadResult))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
public sealed partial class AdminJson : JsonSerializerContext;

public sealed record AdminResult(bool Ok, string Message);

/// <summary>
/// The local admin endpoint behind <c>Concentrator sas|initiate|terminate</c>, on the http.listen address. It answers
/// loopback clients only, whatever address http.listen binds (in a pod: <c>kubectl exec</c>); with
/// CONCENTRATOR_ADMIN_TOKEN set (allowed with a loopback http.listen only, <see cref="HttpConfig.AdminToken"/>) every
/// request must also carry the token as a bearer token. <see cref="AdminGate"/> checks both before a handler runs.
/// </summary>
public static partial class AdminApi
{
    public static void Map(WebApplication app, Gateway gateway, string? token)
    {
        var gate = new AdminGate(token, gateway.Options.Config.Charon.AdminRate, gateway.Metrics.Limits);
        app.Lifetime.ApplicationStopped.Register(gate.Dispose);

        app.MapGet("/admin/sas", async (HttpContext http) => gate.Admit(http) ?? await SasAsync(gateway, http.Request.Query));
        app.MapGet("/admin/conns", (HttpContext http) => gate.Admit(http) ??
            Results.Text(JsonSerializer.Serialize(ListConns(gateway.Config), AdminJson.Default.ListConnView), "application/json"));
        app.MapPost("/admin/initiate", async (HttpContext http) => gate.Admit(http) ?? await InitiateAsync(gateway, http.Request.Query));
        app.MapPost("/admin/rekey", async (HttpContext http) => gate.Admit(http) ?? await RekeyAsync(gateway, http.Request.Query));
        app.MapGet("/admin/stats", async (HttpContext http) => gate.Admit(http) ?? await StatsAsync(gateway));
        app.MapPost("/admin/terminate", async (HttpContext http) => gate.Admit(http) ?? await TerminateAsync(gateway, http.Request.Query));
        // Re-reads the file the gateway was started with: a request names no path, so the endpoint reads no other file.
        app.MapPost("/admin/reload", async (HttpContext http) => gate.Admit(http) ?? ReplyReload(await gateway.ReloadAsync()));
    }

    /// <summary>200 applied, 409 refused (restart-only keys), 422 invalid (the file did not load).</summary>
    private static IResult ReplyReload(ReloadResult r) =>
        Results.Text(JsonSerializer.Serialize(r, AdminJson.Default.ReloadResult), "application/json",
            statusCode: r.Ok ? 200 : r.Outcome == ReloadResult.Refused ? 409 : 422);

    private static IResult Reply(AdminResult r, int failure = 404) =>
        Results.Text(JsonSerializer.Serialize(r, AdminJson.Default.AdminResult), "application/json", statusCode: r.Ok ? 200 : failure);

    /// <summary>The longest user or name the commands accept: an identity is at most a DN or an e-mail address.</summary>
    public const int MaxArgumentLength = 512;

    private static readonly string[] TerminateSelectors = ["ike", "child", "user", "ike_id", "vip"];
    private static readonly string[] TerminateParameters = [.. TerminateSelectors, "timeout"];

    /// <summary>
    /// Admin input is hostile: one query value, at most <see cref="MaxArgumentLength"/> characters, no control characters;
    /// null with <paramref name="error"/> set when it is not.
    /// </summary>
    public static string? Argument(IQueryCollection query, string key, out string? error)
    {
        error = null;
        if (!query.TryGetValue(key, out var values)) return null;
        if (values.Count != 1 || values[0] is not { Length: > 0 } value)
        {
            error = $"{key}: one non-empty value expected";
            return null;
        }
        if (value.Length > MaxArgumentLength || value.Any(char.IsControl))
        {
            error = $"{key}: not a valid value (at most {MaxArgumentLength} printable characters)";
            return null;
        }
        return value;
    }

    private static async Task<IResult> SasAsync(Gateway gateway, IQueryCollection query)
    {
        if (query.Keys.FirstOrDefault(k => k != "user") is { } unknown) return Reply(new AdminResult(false, $"unknown parameter '{unknown}'"), 400);
        string? user = Argument(query, "user", out var error);
        if (error is not null) return Reply(new AdminResult(false, error), 400);
        var sas = await ListAsync(gateway);
        if (user is not null)
        {
            sas = sas.Where(sa => sa.User == user).ToList();
            if (sas.Count == 0) return Reply(new AdminResult(false, $"no IKE SA of user '{user}' on this node"));
        }
        return Results.Text(JsonSerializer.Serialize(sas, AdminJson.Default.ListSaView), "application/json");
    }

    /// <summary>Every configured connection with its rounds and children (the node's own configuration).</summary>
    public static List<ConnView> ListConns(ConcentratorConfig config) =>
        config.Connections.Values.Select(c => new ConnView(c.Name, c.LocalAddrs, c.RemoteAddrs, Ike.Connections.UniqueRules.Name(c.Unique),
            c.Proposals.Select(p => p.ToString()!).ToList(), c.Pools, [Round(c.Local, local: true)], [Round(c.Remote, local: false)],
            c.Children.Values.Select(ch => new ChildConfView(ch.Name, ch.Mode, ch.LocalTs.Select(t => t.ToString()).ToList(),
                ch.RemoteTs.Select(t => t.ToString()).ToList(), ch.EspProposals.Select(p => p.ToString()).ToList(), ch.Updown,
                ch.InterfaceIdIn, ch.InterfaceIdOut)).ToList(),
            Ike.Connections.ChildlessPolicies.Name(c.Childless))).ToList();

    private static AuthView Round(Ike.Connections.AuthConfig a, bool local) => new(a.Auth, a.Identity.Text,
        local && a.Certificate is { } own ? [own.Subject.Text] : [],
        a.Trust?.CaCertificates.Select(ca => ca.Subject).ToList() ?? []);

    public static async Task<List<SaView>> ListAsync(Gateway gateway)
    {
        var result = new List<SaView>();
        var now = DateTime.UtcNow;
        foreach (var info in await InfosAsync(gateway))
        {
            var children = info.Children.Select(c =>
            {
                gateway.Options.DataPlane.TryGetCounters(c.InboundSpi, out var n);
                // The child's interfaces in the running configuration (a reload that changed them applies to new SAs only).
                var conf = gateway.Config.Connections.GetValueOrDefault(info.Connection)?.Children.GetValueOrDefault(c.Child);
                var status = info.ChildStates?.FirstOrDefault(s => s.InboundSpi == c.InboundSpi);
                return new ChildView(c.Child, $"{c.InboundSpi:x8}", $"{c.OutboundSpi:x8}", SwanctlNames.Esp(c.Suite),
                    c.LocalTs.Select(Format).ToList(), c.RemoteTs.Select(Format).ToList(), n.BytesIn, n.PacketsIn, n.BytesOut, n.PacketsOut,
                    c.Mode == IpsecMode.Transport ? "transport" : "tunnel", conf?.InterfaceIdIn ?? 0, conf?.InterfaceIdOut ?? 0,
                    status is null ? "INSTALLED" : SwanctlNames.ChildState(status.Phase, status.Rekeying, status.Deleting),
                    status is null ? 0 : Seconds(now - status.InstalledUtc), Until(status?.RekeyAt, now), Until(status?.ExpireAt, now),
                    status?.UdpEncapsulated == true);
            }).ToList();
            result.Add(new SaView(info.Connection, $"{info.Spi:x16}", info.State.ToString(), info.Initiator ? "initiator" : "responder",
                info.Remote.ToString(), info.RemoteId, info.Suite.Encryption == EncrAlgorithm.None ? info.Proposal : SwanctlNames.Ike(info.Suite),
                Math.Round(info.Age.TotalSeconds, 1), children, info.RemoteCertificate, info.VirtualIps ?? [], info.UniqueId, info.LocalId,
                info.User, info.EapId, info.EstablishedUtc == default ? null : Seconds(now - info.EstablishedUtc),
                Until(info.RekeyAt, now), Until(info.ReauthAt, now), Until(info.ExpireAt, now)));
        }
        return result;
    }

    /// <summary>
    /// Deletes, with their peers, this node's SAs that one selector names: a connection's IKE SAs (ike), a child's Child
    /// SAs (child), one user's IKE SAs (user), one IKE SA by its unique id (ike_id) or the IKE SA holding a virtual IP
    /// (vip). Anything else, or more than one selector, is refused (400) before an SA is looked at.
    /// </summary>
    private static async Task<IResult> TerminateAsync(Gateway gateway, IQueryCollection query)
    {
        if (query.Keys.FirstOrDefault(k => !TerminateParameters.Contains(k)) is { } unknown)
            return Reply(new AdminResult(false, $"unknown parameter '{unknown}'"), 400);
        var timeout = Timeout(query, out var timeoutError);
        if (timeoutError is not null) return Reply(new AdminResult(false, timeoutError), 400);
        var given = TerminateSelectors.Where(query.ContainsKey).ToList();
        if (given.Count != 1) return Reply(new AdminResult(false, "terminate needs exactly one of ike, child, user, ike_id, vip"), 400);
        string key = given[0];
        string? value = Argument(query, key, out var error);
        if (error is not null || value is null) return Reply(new AdminResult(false, error ?? $"{key}: missing value"), 400);

        long ikeId = 0;
        System.Net.IPAddress? vip = null;
        if (key == "ike_id" && UniqueIdError(value, out ikeId) is { } idError) return Reply(new AdminResult(false, idError), 400);
        if (key == "vip" && !System.Net.IPAddress.TryParse(value, out vip))
            return Reply(new AdminResult(false, $"vip: '{value}' is not an IP address"), 400);
        string? vipText = vip?.ToString();

        int n = 0;
        var deleted = new List<IActorRef>();
        var children = new List<(IActorRef, uint)>();
        foreach (var (actor, info) in await ActorsAsync(gateway))
        {
            bool whole = key switch
            {
                "ike" => info.Connection == value,
                "user" => info.User == value,
                "ike_id" => info.UniqueId == ikeId,
                "vip" => info.VirtualIps?.Contains(vipText!) == true,
                _ => false,
            };
            if (whole)
            {
                actor.Tell(IkeSaActor.DeleteIkeSa.Instance);
                deleted.Add(actor);
                n++;
            }
            else if (key == "child")
            {
                foreach (var c in info.Children.Where(c => c.Child == value))
                {
                    actor.Tell(new IkeSaActor.DeleteChildSa(c.InboundSpi));
                    children.Add((actor, c.InboundSpi));
                    n++;
                }
            }
        }
        if (n > 0 && timeout > TimeSpan.Zero) return await WaitDeletedAsync(gateway, timeout.Value, deleted, children, $"deleting {n} SA(s)");
        if (n > 0) return Reply(new AdminResult(true, $"deleting {n} SA(s)"));
        return Reply(new AdminResult(false, key switch
        {
            "user" => $"no IKE SA of user '{value}' on this node",
            "ike_id" => $"no IKE SA #{ikeId} on this node",
            "vip" => $"no IKE SA holds virtual IP {vipText} on this node",
            _ => "no matching SA",
        }));
    }

    private static async Task<List<IkeSaActor.Info>> InfosAsync(Gateway gateway) => (await ActorsAsync(gateway)).Select(a => a.Info).ToList();

    internal static async Task<List<(IActorRef Actor, IkeSaActor.Info Info)>> ActorsAsync(Gateway gateway)
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

    /// <summary>swanctl's #N as a query value: a positive decimal number, nothing else; null when it is one.</summary>
    public static string? UniqueIdError(string value, out long id) =>
        long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out id) && id > 0
            ? null
            : $"ike_id: '{value}' is not a unique id (a positive number as sas shows it after #)";

    private static long Seconds(TimeSpan t) => Math.Max(0, (long)t.TotalSeconds);

    private static long? Until(DateTime? at, DateTime now) => at is { } t ? Seconds(t - now) : null;

    private static string Format(TrafficSelector ts) =>
        ts.StartAddress.Equals(ts.EndAddress) ? ts.StartAddress.ToString() : $"{ts.StartAddress}-{ts.EndAddress}";
}

using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;

namespace Concentrator.Hosting;

/// <summary>swanctl --rekey: the Child SAs of a child, or the IKE SAs of a connection (or one by its #N), on this node.</summary>
public static partial class AdminApi
{
    private static readonly string[] RekeySelectors = ["child", "ike", "ike_id"];
    private static readonly string[] RekeyParameters = [.. RekeySelectors, "reauth", "timeout"];

    /// <summary>
    /// Rekeys what one selector names (child: every installed Child SA of that child; ike: every established IKE SA of that
    /// connection; ike_id: one IKE SA), reauthenticating IKE SAs instead with <c>reauth=yes</c>. With a timeout it waits until
    /// each has a successor: a Child SA of the child with a new SPI installed and the old one replaced; an IKE SA under a
    /// new SPI (rekey) or a new IKE SA of the connection in place of the old one (reauthentication).
    /// </summary>
    private static async Task<IResult> RekeyAsync(Gateway gateway, IQueryCollection query)
    {
        if (query.Keys.FirstOrDefault(k => !RekeyParameters.Contains(k)) is { } unknown) return Reply(new AdminResult(false, $"unknown parameter '{unknown}'"), 400);
        var given = RekeySelectors.Where(query.ContainsKey).ToList();
        if (given.Count != 1) return Reply(new AdminResult(false, "rekey needs exactly one of child, ike, ike_id"), 400);
        string key = given[0];
        string? value = Argument(query, key, out var error);
        string? reauthText = Argument(query, "reauth", out var reauthError);
        var timeout = Timeout(query, out var timeoutError);
        if ((error ?? reauthError ?? timeoutError) is { } bad) return Reply(new AdminResult(false, bad), 400);
        if (value is null) return Reply(new AdminResult(false, $"{key}: missing value"), 400);
        if (reauthText is not (null or "yes" or "no")) return Reply(new AdminResult(false, $"reauth: '{reauthText}' is not yes or no"), 400);
        bool reauth = reauthText == "yes";
        if (reauth && key == "child") return Reply(new AdminResult(false, "reauth applies to IKE SAs (ike or ike_id), not to a child"), 400);
        long ikeId = 0;
        if (key == "ike_id" && UniqueIdError(value, out ikeId) is { } idError) return Reply(new AdminResult(false, idError), 400);

        var children = new List<(IActorRef Actor, uint Spi, long Id)>();
        var ikes = new List<(IActorRef Actor, ulong Spi, long Id, string Connection)>();
        var existing = new HashSet<IActorRef>();
        foreach (var (actor, info) in await ActorsAsync(gateway))
        {
            existing.Add(actor);
            if (info.State != IkeSaState.Established) continue;
            if (key == "child")
            {
                foreach (var s in info.ChildStates ?? [])
                {
                    if (s.Phase != ChildSaPhase.Installed || s.Rekeying || s.Deleting || info.Children.All(c => c.InboundSpi != s.InboundSpi || c.Child != value)) continue;
                    actor.Tell(new IkeSaActor.RekeyChildSa(s.InboundSpi));
                    children.Add((actor, s.InboundSpi, info.UniqueId));
                }
            }
            else if (key == "ike" ? info.Connection == value : info.UniqueId == ikeId)
            {
                actor.Tell(new IkeSaActor.RekeyIkeSa(reauth));
                ikes.Add((actor, info.Spi, info.UniqueId, info.Connection));
            }
        }
        int n = children.Count + ikes.Count;
        if (n == 0)
        {
            return Reply(new AdminResult(false, key switch
            {
                "child" => $"no installed Child SA of child '{value}' on this node",
                "ike_id" => $"no established IKE SA #{ikeId} on this node",
                _ => $"no established IKE SA of connection '{value}' on this node",
            }));
        }
        string what = children.Count > 0 ? $"rekeying {n} Child SA(s)" : $"{(reauth ? "reauthenticating" : "rekeying")} {n} IKE SA(s)";
        if (timeout == TimeSpan.Zero) return Reply(new AdminResult(true, what));

        return await WaitAsync(gateway, timeout!.Value, async () =>
        {
            int left = 0;
            foreach (var (actor, spi, id) in children)
            {
                var info = await InfoOf(actor);
                if (info is null) return new AdminResult(false, $"IKE SA #{id} closed while its Child SA {spi:x8} was rekeyed");
                var old = info.ChildStates?.FirstOrDefault(s => s.InboundSpi == spi);
                bool replaced = old is null || old.Phase is ChildSaPhase.Rekeyed or ChildSaPhase.Redundant;
                if (!replaced || !Installed(info, value, new HashSet<uint> { spi })) left++;
            }
            var live = ikes.Count > 0 && reauth ? await LiveActorsAsync(gateway) : null;
            foreach (var (actor, spi, id, connection) in ikes)
            {
                if (!reauth)
                {
                    var info = await InfoOf(actor);
                    if (info is null) return new AdminResult(false, $"IKE SA #{id} closed while it was rekeyed");
                    if (info.Spi == spi || info.State != IkeSaState.Established) left++;
                }
                else if (live!.Contains(actor) || !await AnyNewEstablishedAsync(live, existing, connection))
                {
                    left++;
                }
            }
            return left == 0 ? new AdminResult(true, $"{what}: done") : null;
        }, () => $"{what}: not all done within {timeout.Value.TotalSeconds:F0} s");
    }

    private static async Task<bool> AnyNewEstablishedAsync(HashSet<IActorRef> live, HashSet<IActorRef> existing, string connection)
    {
        foreach (var actor in live.Except(existing))
        {
            if (await InfoOf(actor) is { State: IkeSaState.Established } info && info.Connection == connection) return true;
        }
        return false;
    }
}

using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;

namespace Concentrator.Hosting;

/// <summary>
/// The admin commands that wait for their outcome (swanctl's initiate, terminate and rekey): the request names a bounded
/// <c>timeout</c> in seconds (absent: answer at once, as before), and the answer is 200 once the SAs are where the command
/// wanted them, 504 when the time ran out, 404/409 when there was nothing to do or the SA closed. Outcomes are read from
/// what the gateway knows (the SA actors' <see cref="IkeSaActor.Info"/> and the <see cref="IkeSaDown"/> events), polled
/// on the SAs the command touched only.
/// </summary>
public static partial class AdminApi
{
    /// <summary>The longest wait a request may ask for. swanctl's 0 (wait forever) is not offered: every wait ends.</summary>
    public const int MaxWaitSeconds = 300;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>A waiting request holds a poll loop; an operator needs a few at a time, not an unbounded number.</summary>
    private const int MaxWaiting = 4;

    private static readonly ConditionalWeakTable<Gateway, SemaphoreSlim> Waiting = new();

    /// <summary>The timeout query value: absent 0 (do not wait), else 1 to <see cref="MaxWaitSeconds"/>.</summary>
    internal static TimeSpan? Timeout(IQueryCollection query, out string? error)
    {
        string? text = Argument(query, "timeout", out error);
        if (error is not null) return null;
        if (text is null) return TimeSpan.Zero;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int s) || s < 1 || s > MaxWaitSeconds)
        {
            error = $"timeout: '{text}' is not a number of seconds from 1 to {MaxWaitSeconds}";
            return null;
        }
        return TimeSpan.FromSeconds(s);
    }

    /// <summary>Polls <paramref name="check"/> until it answers or <paramref name="timeout"/> passes (then <paramref name="late"/>).</summary>
    private static async Task<IResult> WaitAsync(Gateway gateway, TimeSpan timeout, Func<Task<AdminResult?>> check, Func<string> late)
    {
        var waiting = Waiting.GetValue(gateway, _ => new SemaphoreSlim(MaxWaiting));
        if (!await waiting.WaitAsync(0)) return Reply(new AdminResult(false, $"{MaxWaiting} admin commands are waiting already; try again"), 503);
        try
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                if (await check() is { } done) return Reply(done, 409);
                if (DateTime.UtcNow >= deadline) return Reply(new AdminResult(false, late()), 504);
                await Task.Delay(PollInterval);
            }
        }
        finally
        {
            waiting.Release();
        }
    }

    /// <summary>The actor's info, or null when it is gone (stopped, or too busy to answer within a second).</summary>
    private static async Task<IkeSaActor.Info?> InfoOf(IActorRef actor)
    {
        try
        {
            return await actor.Ask<IkeSaActor.Info>(IkeSaActor.GetInfo.Instance, TimeSpan.FromSeconds(1));
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    private static async Task<HashSet<IActorRef>> LiveActorsAsync(Gateway gateway) =>
        (await gateway.Supervisor.Ask<List<IActorRef>>(IkeSaSupervisor.GetSas.Instance, TimeSpan.FromSeconds(5))).ToHashSet();

    private static bool Installed(IkeSaActor.Info info, string child, ISet<uint> besides) =>
        info.ChildStates?.Any(s => s.Phase == ChildSaPhase.Installed && !s.Deleting && !besides.Contains(s.InboundSpi)
            && info.Children.Any(c => c.InboundSpi == s.InboundSpi && c.Child == child)) == true;

    /// <summary>Under an established IKE SA of the child's connection (CREATE_CHILD_SA), else with a new IKE SA.</summary>
    private static async Task<IResult> InitiateAsync(Gateway gateway, IQueryCollection query)
    {
        if (query.Keys.FirstOrDefault(k => k is not ("child" or "timeout")) is { } unknown) return Reply(new AdminResult(false, $"unknown parameter '{unknown}'"), 400);
        string? child = Argument(query, "child", out var error);
        var timeout = Timeout(query, out var timeoutError);
        if (error is not null || timeoutError is not null || child is null) return Reply(new AdminResult(false, error ?? timeoutError ?? "child: missing value"), 400);

        var conn = gateway.Config.Connections.Values.FirstOrDefault(c => c.Children.ContainsKey(child));
        if (conn is null) return Reply(new AdminResult(false, $"no child named '{child}' in the configuration"));
        var config = conn.Children[child];
        foreach (var (actor, info) in await ActorsAsync(gateway))
        {
            if (info.Connection != conn.Name || info.State != IkeSaState.Established) continue;
            var before = info.Children.Select(c => c.InboundSpi).ToHashSet();
            actor.Tell(new IkeSaActor.CreateChildSa(config));
            string started = $"creating child {child} under IKE SA #{info.UniqueId} {info.Spi:x16}";
            if (timeout == TimeSpan.Zero) return Reply(new AdminResult(true, started));
            return await WaitAsync(gateway, timeout!.Value, async () => await InfoOf(actor) switch
            {
                null => new AdminResult(false, $"IKE SA #{info.UniqueId} closed before child {child} was established"),
                var now when Installed(now, child, before) => new AdminResult(true, $"child {child} established under IKE SA #{info.UniqueId}"),
                _ => null,
            }, () => $"child {child} not established within {timeout.Value.TotalSeconds:F0} s");
        }

        var existing = await LiveActorsAsync(gateway);
        var downs = new ConcurrentQueue<IkeSaDown>();
        var listener = timeout > TimeSpan.Zero ? gateway.System.ActorOf(Props.Create(() => new DownListener(downs, conn.Name))) : null;
        try
        {
            if (!gateway.TryInitiate(conn, [config])) return Reply(new AdminResult(false, $"connection {conn.Name} has no concrete remote_addrs"));
            if (listener is null) return Reply(new AdminResult(true, $"initiating {conn.Name} with child {child}"));
            return await WaitAsync(gateway, timeout!.Value, async () =>
            {
                if (downs.TryDequeue(out var down)) return new AdminResult(false, $"IKE SA of {conn.Name} failed: {down.Reason}");
                foreach (var actor in (await LiveActorsAsync(gateway)).Except(existing))
                {
                    if (await InfoOf(actor) is { State: IkeSaState.Established } info && info.Connection == conn.Name && Installed(info, child, new HashSet<uint>()))
                        return new AdminResult(true, $"IKE SA #{info.UniqueId} of {conn.Name} established with child {child}");
                }
                return null;
            }, () => $"IKE SA of {conn.Name} not established within {timeout.Value.TotalSeconds:F0} s");
        }
        finally
        {
            if (listener is not null) gateway.System.Stop(listener);
        }
    }

    /// <summary>Collects the failures of initiator IKE SAs of one connection that were never established.</summary>
    private sealed class DownListener : ReceiveActor
    {
        public DownListener(ConcurrentQueue<IkeSaDown> downs, string connection)
        {
            Receive<IkeSaDown>(d =>
            {
                if (d.Initiator && !d.WasEstablished && d.Connection == connection && downs.Count < 16) downs.Enqueue(d);
            });
        }

        protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(IkeSaDown));

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
    }

    /// <summary>Waits until the IKE SAs told to go are gone and the Child SAs told to go are out of their IKE SAs.</summary>
    private static Task<IResult> WaitDeletedAsync(Gateway gateway, TimeSpan timeout, List<IActorRef> whole, List<(IActorRef Actor, uint Spi)> children, string started) =>
        WaitAsync(gateway, timeout, async () =>
        {
            var live = await LiveActorsAsync(gateway);
            int left = whole.Count(live.Contains);
            foreach (var (actor, spi) in children)
            {
                if (live.Contains(actor) && await InfoOf(actor) is { } info && info.Children.Any(c => c.InboundSpi == spi)) left++;
            }
            return left == 0 ? new AdminResult(true, $"{started}: all deleted") : null;
        }, () => $"{started}: not all deleted within {timeout.TotalSeconds:F0} s");
}

using System.Globalization;
using Akka.Actor;
using Akka.DistributedData;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// Settles which node may run an SA it restored under a new ownership epoch, before that node seals a single packet
/// with the SA's keys. Two nodes may restore the same SA from the same mark at once (two survivors picking the same
/// orphan with different views of the members, a release racing a restore from the replica): with the same key and the
/// same outbound start they would seal the same (key, sequence number), which for AES-GCM and ChaCha20-Poly1305 is a
/// reused nonce. So the adopter holds everything — the SA is not even handed to the supervisor — until its claim is
/// acknowledged:
/// <list type="number">
/// <item>it adds the claim "SPI/epoch/node" to an OR-set in Distributed Data, written to a majority of the members;</item>
/// <item>once that write is acknowledged, it reads the claims of the SA from a majority;</item>
/// <item>it wins only if no other member's claim at its epoch or above is among them.</item>
/// </list>
/// Of two concurrent claimants at least one sees the other (the second one's read quorum meets the first one's write
/// quorum after that write completed), and an OR-set keeps both concurrent adds, so at most one wins; both may lose,
/// which is safe (nobody sends) and ends with the next attempt (the peer's traffic, or the orphan retry). A loser removes
/// its claim so that it does not stand in the way of that attempt; claims of nodes no longer members are ignored, and an
/// SA's claims go when the SA is deleted (<see cref="Forget"/>). Failing writes and reads lose. The claims carry no key
/// material. Cost: two majority round trips per adoption.
/// <para>
/// Every update adds or removes one element: with Akka.NET's ORSet deltas, an update that removed and added in one step
/// (a delta group) made later merges drop other nodes' claims (a majority read missing a claim two nodes held, seen in
/// about one test cluster in three), which would let a second claimant win.
/// </para>
/// </summary>
public sealed class SaClaimActor : ReceiveActor
{
    /// <summary>Top 6 bits of the IKE SPI: 64 small OR-sets (claims are few and short-lived).</summary>
    private const int KeyBits = 6;

    public static readonly TimeSpan ClaimTimeout = TimeSpan.FromSeconds(2);

    private static readonly ORSetKey<string>[] Keys =
        Enumerable.Range(0, 1 << KeyBits).Select(i => new ORSetKey<string>("sa-claims-" + i.ToString(CultureInfo.InvariantCulture))).ToArray();

    private readonly Akka.Cluster.Cluster _cluster;
    private readonly IActorRef _replicator;
    private readonly string _self;
    private readonly IWriteConsistency _write = new WriteMajority(ClaimTimeout);
    private readonly IReadConsistency _read = new ReadMajority(ClaimTimeout);

    public SaClaimActor()
    {
        _cluster = Akka.Cluster.Cluster.Get(Context.System);
        _replicator = DistributedData.Get(Context.System).Replicator;
        _self = _cluster.SelfAddress.ToString();

        Receive<Claim>(m =>
        {
            var mine = Element(m.Spi, m.Epoch, _self);
            var request = new Pending(m, Sender);
            _replicator.Tell(Dsl.Update(KeyOf(m.Spi), ORSet<string>.Empty, _write, request, set => set.Add(_cluster, mine)));
        });
        Receive<UpdateSuccess>(r =>
        {
            if (r.Request is Pending p) _replicator.Tell(Dsl.Get(KeyOf(p.Claim.Spi), _read, p));
        });
        Receive<IUpdateResponse>(r =>
        {
            if (r.Request is Pending p) Decide(p, won: false);
        });
        Receive<GetSuccess>(r => r.Request is Pending, r =>
        {
            var p = (Pending)r.Request;
            Decide(p, won: Uncontested(p.Claim, r.Get((ORSetKey<string>)r.Key)));
        });
        Receive<IGetResponse>(r => r.Request is Pending, r => Decide((Pending)r.Request!, won: false));
        // Read from a majority first: an element is removed only where it was observed (OR-set).
        Receive<Forget>(m => _replicator.Tell(Dsl.Get(KeyOf(m.Spi), _read, m)));
        Receive<GetSuccess>(r => r.Request is Forget, r =>
        {
            var f = (Forget)r.Request!;
            foreach (var element in r.Get((ORSetKey<string>)r.Key).Elements)
            {
                if (TryParse(element, out var spi, out _, out _) && spi == f.Spi)
                {
                    _replicator.Tell(Dsl.Update(KeyOf(f.Spi), ORSet<string>.Empty, WriteLocal.Instance, null, set => set.Remove(_cluster, element)));
                }
            }
        });
        Receive<IGetResponse>(_ => { }); // a forgotten SA without claims, or a read that failed: cleanup is best effort
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new SaClaimActor());

    private static ORSetKey<string> KeyOf(ulong spi) => Keys[(int)(spi >> (64 - KeyBits))];

    private static string Element(ulong spi, long epoch, string owner) =>
        $"{spi.ToString("x16", CultureInfo.InvariantCulture)}/{epoch.ToString(CultureInfo.InvariantCulture)}/{owner}";

    private static bool TryParse(string element, out ulong spi, out long epoch, out string owner)
    {
        var parts = element.Split('/', 3);
        owner = parts.Length == 3 ? parts[2] : "";
        epoch = 0;
        spi = 0;
        return parts.Length == 3 && ulong.TryParse(parts[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out spi) &&
               long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out epoch);
    }

    /// <summary>No claim of another member at <paramref name="claim"/>'s epoch or later, and this node's own is there.</summary>
    private bool Uncontested(Claim claim, ORSet<string> claims)
    {
        var members = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in _cluster.State.Members) members.Add(member.Address.ToString());
        bool mine = false;
        foreach (var element in claims.Elements)
        {
            if (!TryParse(element, out var spi, out var epoch, out var owner) || spi != claim.Spi) continue;
            if (owner == _self)
            {
                mine |= epoch == claim.Epoch;
                continue;
            }
            if (epoch >= claim.Epoch && members.Contains(owner)) return false;
        }
        return mine;
    }

    private void Decide(Pending p, bool won)
    {
        if (!won)
        {
            // Out of the way of the next attempt (a later read may still see it meanwhile: that attempt then loses too).
            var mine = Element(p.Claim.Spi, p.Claim.Epoch, _self);
            _replicator.Tell(Dsl.Update(KeyOf(p.Claim.Spi), ORSet<string>.Empty, _write, null, set => set.Remove(_cluster, mine)));
        }
        p.ReplyTo.Tell(new ClaimResult(p.Claim.Spi, p.Claim.Epoch, won));
    }

    /// <summary>May this node run SA <paramref name="Spi"/> under <paramref name="Epoch"/>? Answered with <see cref="ClaimResult"/>.</summary>
    public sealed record Claim(ulong Spi, long Epoch);

    public sealed record ClaimResult(ulong Spi, long Epoch, bool Won);

    /// <summary>The SA is gone: its claims go too (this node's view; gossip carries it).</summary>
    public sealed record Forget(ulong Spi);

    private sealed record Pending(Claim Claim, IActorRef ReplyTo);
}

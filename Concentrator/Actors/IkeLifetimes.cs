using Concentrator.Ike.Connections;

namespace Concentrator.Actors;

/// <summary>Lifetimes of one Child SA (swanctl child: rekey_time, life_time, rand_time, rekey_/life_/rand_bytes and
/// _packets); 0 = none.</summary>
public sealed record ChildLifetime(TimeSpan RekeyTime, TimeSpan LifeTime, TimeSpan RandTime,
    ulong RekeyBytes, ulong LifeBytes, ulong RekeyPackets, ulong LifePackets, ulong RandBytes = 0, ulong RandPackets = 0)
{
    public static readonly ChildLifetime None = new(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, 0, 0, 0, 0);

    public static ChildLifetime From(ChildConfig c) =>
        new(c.RekeyTime, c.LifeTime, c.RandTime, c.RekeyBytes, c.LifeBytes, c.RekeyPackets, c.LifePackets, c.RandBytes, c.RandPackets);
}

/// <summary>
/// When the timers of an IKE SA and its Child SAs fire (swanctl's rekey_time, reauth_time, over_time, rand_time and the
/// child lifetimes). Pure: the time since negotiation and the random source are arguments, so the rules are tested
/// without an actor. An SA adopted from another cluster node was negotiated in the past; its lifetimes run on from then.
/// </summary>
public static class IkeLifetimes
{
    /// <summary>The IKE SA's timers; null where the connection sets none.</summary>
    public readonly record struct IkeSchedule(TimeSpan? Reauth, TimeSpan? Rekey, TimeSpan? Expire);

    /// <summary>The Child SA's timers; null where its lifetime sets none.</summary>
    public readonly record struct ChildSchedule(TimeSpan? Rekey, TimeSpan? Expire);

    /// <summary>
    /// What is left of a lifetime for an SA negotiated <paramref name="age"/> ago: all of it for a fresh SA (under a
    /// second), else the rest, at least a second (an adopted SA past its time acts soon, not in a burst).
    /// </summary>
    public static TimeSpan Remaining(TimeSpan lifetime, TimeSpan age) =>
        age < TimeSpan.FromSeconds(1) ? lifetime : TimeSpan.FromTicks(Math.Max((lifetime - age).Ticks, TimeSpan.TicksPerSecond));

    /// <summary>
    /// IKE rekey at rekey_time less a random part of rand_time, then over_time as the hard limit (expiry); reauth_time with
    /// the same jitter. rand_time only spreads a timer it is shorter than.
    /// </summary>
    public static IkeSchedule ForIke(ConnectionConfig conn, TimeSpan age, Random random)
    {
        TimeSpan? reauth = null, rekey = null, expire = null;
        if (conn.ReauthTime > TimeSpan.Zero)
        {
            reauth = Remaining(conn.ReauthTime - Spread(conn.RandTime, conn.ReauthTime, random), age);
        }

        if (conn.RekeyTime > TimeSpan.Zero)
        {
            rekey = Remaining(conn.RekeyTime - Spread(conn.RandTime, conn.RekeyTime, random), age);
            if (conn.OverTime > TimeSpan.Zero) expire = Remaining(conn.RekeyTime + conn.OverTime, age);
        }
        return new IkeSchedule(reauth, rekey, expire);
    }

    /// <summary>Child rekey at rekey_time less a random part of rand_time (both ends rekeying at once collide less often,
    /// RFC 7296 §2.8.1); expiry at life_time.</summary>
    public static ChildSchedule ForChild(ChildLifetime lifetime, TimeSpan age, Random random)
    {
        TimeSpan? rekey = null, expire = null;
        if (lifetime.RekeyTime > TimeSpan.Zero)
        {
            var jitter = lifetime.RandTime > TimeSpan.Zero ? TimeSpan.FromTicks(random.NextInt64(lifetime.RandTime.Ticks)) : TimeSpan.Zero;
            rekey = Remaining(lifetime.RekeyTime - jitter, age);
        }
        if (lifetime.LifeTime > TimeSpan.Zero) expire = Remaining(lifetime.LifeTime, age);
        return new ChildSchedule(rekey, expire);
    }

    /// <summary>
    /// The soft volume limits: rekey_bytes and rekey_packets less a random part of rand_bytes and rand_packets, at most
    /// the whole limit (strongSwan's child_cfg jitter), drawn once per SA so that peers rekeying by volume spread out.
    /// 0 stays 0 (no limit).
    /// </summary>
    public static (ulong Bytes, ulong Packets) SoftVolume(ChildLifetime lifetime, Random random) =>
        (Jitter(lifetime.RekeyBytes, lifetime.RandBytes, random), Jitter(lifetime.RekeyPackets, lifetime.RandPackets, random));

    private static ulong Jitter(ulong rekey, ulong rand, Random random)
    {
        if (rekey == 0 || rand == 0) return rekey;
        ulong span = Math.Min(rand == ulong.MaxValue ? rand : rand + 1, rekey);
        return rekey - (ulong)(span * random.NextDouble());
    }

    /// <summary>A random part of <paramref name="rand"/> when it is shorter than <paramref name="lifetime"/>, else zero.</summary>
    private static TimeSpan Spread(TimeSpan rand, TimeSpan lifetime, Random random) =>
        rand > TimeSpan.Zero && rand < lifetime ? TimeSpan.FromTicks(random.NextInt64(rand.Ticks)) : TimeSpan.Zero;
}

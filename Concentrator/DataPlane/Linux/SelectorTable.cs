// Ownership/thread-safety: readers (any number of workers) call TryLookup lock-free and without
// allocation; writers (control plane) call Add/Remove, serialised by one lock. Structure per address
// family: one ConcurrentDictionary per prefix length, keyed by the masked destination, whose values
// are immutable candidate arrays replaced whole on every change (a reader sees the old or the new
// array, never a half-built one), plus an immutable descending array of the prefix lengths in use,
// swapped atomically with Volatile.Write after the dictionaries it names exist.
//
// Semantics: every remote traffic selector of an entry is decomposed into CIDR blocks; the packet's
// destination is looked up from the longest present prefix length to the shortest, so the most
// specific destination wins. Within a block, candidates are ordered most specific first (protocol
// set, narrower remote ports, narrower local selectors, then newest insertion) and the first whose
// remote protocol/port and one of whose local selectors (source address/protocol/port) match wins;
// when none does, shorter prefixes are tried. An entry with no local selectors accepts any source.
using System.Collections.Concurrent;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Linux;

public sealed class SelectorTable<T> where T : class
{
    private sealed class Candidate(T value, CompiledSelector remote, CompiledSelector[] local, UInt128 rank, long order)
    {
        public readonly T Value = value;
        public readonly CompiledSelector Remote = remote;
        public readonly CompiledSelector[] Local = local;
        public readonly UInt128 Rank = rank;
        public readonly long Order = order;

        public bool Matches(in PacketFields packet)
        {
            if (!Remote.MatchesProtocolAndPort(in packet, useSource: false))
                return false;
            CompiledSelector[] local = Local;
            if (local.Length == 0)
                return true;
            for (int i = 0; i < local.Length; i++)
            {
                if (local[i].Matches(in packet, useSource: true))
                    return true;
            }
            return false;
        }

        /// <summary>
        /// Lower sorts first: more specific, then newer. Newest-first makes a rekeyed Child SA take over
        /// its predecessor's selectors the moment it is added (make-before-break).
        /// </summary>
        public int CompareTo(Candidate other)
        {
            int c = Rank.CompareTo(other.Rank);
            return c != 0 ? c : other.Order.CompareTo(Order);
        }
    }

    private sealed class Family
    {
        public readonly int Bits;
        public readonly UInt128[] Masks;
        public readonly ConcurrentDictionary<UInt128, Candidate[]>?[] Levels;
        public readonly int[] KeysPerLevel; // writer only
        public int[] Present = []; // read with Volatile.Read

        public Family(int bits)
        {
            Bits = bits;
            Masks = new UInt128[bits + 1];
            for (int len = 1; len <= bits; len++)
                Masks[len] = bits == 32 ? (UInt128)(uint.MaxValue << (32 - len)) : len == 128 ? UInt128.MaxValue : ~(UInt128.MaxValue >> len); // C# masks shift counts: >> 128 would be >> 0
            Levels = new ConcurrentDictionary<UInt128, Candidate[]>?[bits + 1];
            KeysPerLevel = new int[bits + 1];
        }
    }

    private readonly record struct Placement(Family Family, int Length, UInt128 Key, Candidate Candidate);

    private readonly object _writeGate = new();
    private readonly Family _v4 = new(32);
    private readonly Family _v6 = new(128);
    private readonly Dictionary<T, List<Placement>> _placements = new(ReferenceEqualityComparer.Instance);
    private long _order;

    /// <summary>Values currently installed.</summary>
    public int Count
    {
        get
        {
            lock (_writeGate)
                return _placements.Count;
        }
    }

    /// <summary>Number of (prefix, candidate) placements (CIDR blocks after decomposition).</summary>
    public int BlockCount
    {
        get
        {
            lock (_writeGate)
            {
                int n = 0;
                foreach (List<Placement> list in _placements.Values)
                    n += list.Count;
                return n;
            }
        }
    }

    /// <summary>
    /// Installs <paramref name="value"/> for packets from <paramref name="localTs"/> to
    /// <paramref name="remoteTs"/> (an outbound SA: source ∈ TSi-local, destination ∈ TSr-remote).
    /// Adding the same value again adds more selectors to it. Control plane; throws on bad selectors.
    /// </summary>
    public void Add(IReadOnlyList<TrafficSelector> localTs, IReadOnlyList<TrafficSelector> remoteTs, T value)
    {
        ArgumentNullException.ThrowIfNull(localTs);
        ArgumentNullException.ThrowIfNull(remoteTs);
        ArgumentNullException.ThrowIfNull(value);
        var local = new CompiledSelector[localTs.Count];
        UInt128 narrowestLocal = UInt128.MaxValue;
        for (int i = 0; i < local.Length; i++)
        {
            local[i] = CompiledSelector.From(localTs[i]);
            UInt128 span = local[i].End >= local[i].Start ? local[i].End - local[i].Start : UInt128.MaxValue;
            if (span < narrowestLocal)
                narrowestLocal = span;
        }
        var remotes = new CompiledSelector[remoteTs.Count];
        for (int i = 0; i < remotes.Length; i++)
            remotes[i] = CompiledSelector.From(remoteTs[i]);

        lock (_writeGate)
        {
            if (!_placements.TryGetValue(value, out List<Placement>? placements))
            {
                placements = new List<Placement>();
                _placements.Add(value, placements);
            }
            bool v4Changed = false, v6Changed = false;
            foreach (CompiledSelector remote in remotes)
            {
                if (remote.Start > remote.End)
                    continue; // an empty address range carries nothing
                Family family = remote.IsIpv6 ? _v6 : _v4;
                var candidate = new Candidate(value, remote, local, Rank(remote, narrowestLocal), _order++);
                foreach ((UInt128 block, int length) in Decompose(remote.Start, remote.End, family.Bits))
                {
                    if (Insert(family, length, block, candidate))
                    {
                        if (remote.IsIpv6) v6Changed = true; else v4Changed = true;
                    }
                    placements.Add(new Placement(family, length, block, candidate));
                }
            }
            if (v4Changed)
                Publish(_v4);
            if (v6Changed)
                Publish(_v6);
        }
    }

    public void Add(SelectorEntry entry, T value)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Add(entry.LocalTs, entry.RemoteTs, value);
    }

    /// <summary>Removes every selector installed for <paramref name="value"/> (by reference). False when unknown.</summary>
    public bool Remove(T value)
    {
        ArgumentNullException.ThrowIfNull(value);
        lock (_writeGate)
        {
            if (!_placements.Remove(value, out List<Placement>? placements))
                return false;
            bool v4Changed = false, v6Changed = false;
            foreach (Placement p in placements)
            {
                if (RemoveCandidate(p.Family, p.Length, p.Key, p.Candidate))
                {
                    if (ReferenceEquals(p.Family, _v6)) v6Changed = true; else v4Changed = true;
                }
            }
            if (v4Changed)
                Publish(_v4);
            if (v6Changed)
                Publish(_v6);
            return true;
        }
    }

    /// <summary>
    /// The value whose selectors carry <paramref name="ipPacket"/> (IPv4 or IPv6, parsed in place):
    /// most specific destination prefix first. Lock-free, allocation-free; false when none.
    /// </summary>
    public bool TryLookup(ReadOnlySpan<byte> ipPacket, out T value)
    {
        if (!PacketFields.TryParse(ipPacket, out PacketFields fields))
        {
            value = null!;
            return false;
        }
        return TryLookup(in fields, out value);
    }

    public bool TryLookup(in PacketFields fields, out T value)
    {
        Family family = fields.IsIpv6 ? _v6 : _v4;
        int[] present = Volatile.Read(ref family.Present);
        UInt128 destination = fields.Destination;
        UInt128[] masks = family.Masks;
        ConcurrentDictionary<UInt128, Candidate[]>?[] levels = family.Levels;
        for (int i = 0; i < present.Length; i++)
        {
            int length = present[i];
            ConcurrentDictionary<UInt128, Candidate[]>? level = levels[length];
            if (level is null || !level.TryGetValue(destination & masks[length], out Candidate[]? candidates))
                continue;
            for (int c = 0; c < candidates.Length; c++)
            {
                Candidate candidate = candidates[c];
                if (candidate.Matches(in fields))
                {
                    value = candidate.Value;
                    return true;
                }
            }
        }
        value = null!;
        return false;
    }

    /// <summary>Lower = more specific: protocol set, then narrower port range, then narrower local range.</summary>
    private static UInt128 Rank(CompiledSelector remote, UInt128 narrowestLocal)
    {
        ulong protocolAny = remote.Protocol == 0 ? 1UL : 0UL;
        ulong portSpan = remote.StartPort > remote.EndPort ? 0UL : (ulong)(remote.EndPort - remote.StartPort);
        // 1 bit protocol | 17 bits port span | 110 bits local span (saturated).
        UInt128 localPart = narrowestLocal >> 18;
        return ((UInt128)protocolAny << 127) | ((UInt128)portSpan << 110) | (localPart & ((UInt128.One << 110) - 1));
    }

    /// <summary>Returns true when the set of present prefix lengths changed.</summary>
    private static bool Insert(Family family, int length, UInt128 key, Candidate candidate)
    {
        ConcurrentDictionary<UInt128, Candidate[]> level = family.Levels[length] ??= new ConcurrentDictionary<UInt128, Candidate[]>();
        if (level.TryGetValue(key, out Candidate[]? existing))
        {
            var grown = new Candidate[existing.Length + 1];
            int at = 0;
            while (at < existing.Length && existing[at].CompareTo(candidate) <= 0)
                at++;
            Array.Copy(existing, 0, grown, 0, at);
            grown[at] = candidate;
            Array.Copy(existing, at, grown, at + 1, existing.Length - at);
            level[key] = grown;
            return false;
        }
        level[key] = [candidate];
        return family.KeysPerLevel[length]++ == 0;
    }

    private static bool RemoveCandidate(Family family, int length, UInt128 key, Candidate candidate)
    {
        ConcurrentDictionary<UInt128, Candidate[]>? level = family.Levels[length];
        if (level is null || !level.TryGetValue(key, out Candidate[]? existing))
            return false;
        int index = Array.IndexOf(existing, candidate);
        if (index < 0)
            return false;
        if (existing.Length > 1)
        {
            var shrunk = new Candidate[existing.Length - 1];
            Array.Copy(existing, 0, shrunk, 0, index);
            Array.Copy(existing, index + 1, shrunk, index, existing.Length - index - 1);
            level[key] = shrunk;
            return false;
        }
        level.TryRemove(key, out _);
        return --family.KeysPerLevel[length] == 0;
    }

    private static void Publish(Family family)
    {
        var lengths = new List<int>();
        for (int len = family.Bits; len >= 0; len--)
        {
            if (family.KeysPerLevel[len] > 0)
                lengths.Add(len);
        }
        Volatile.Write(ref family.Present, lengths.ToArray());
    }

    /// <summary>Splits [start, end] of a <paramref name="bits"/>-bit space into maximal aligned CIDR blocks.</summary>
    internal static List<(UInt128 Block, int Length)> Decompose(UInt128 start, UInt128 end, int bits)
    {
        var blocks = new List<(UInt128, int)>();
        UInt128 max = bits == 128 ? UInt128.MaxValue : (UInt128.One << bits) - 1;
        if (end > max)
            end = max;
        while (start <= end)
        {
            // Largest k such that start is aligned to 2^k and start + 2^k - 1 <= end.
            int k = start == 0 ? bits : Math.Min(bits, (int)UInt128.TrailingZeroCount(start));
            while (k > 0)
            {
                UInt128 last = k == 128 ? UInt128.MaxValue : start + ((UInt128.One << k) - 1);
                if (last >= start && last <= end)
                    break;
                k--;
            }
            blocks.Add((start, bits - k));
            UInt128 size = k == 128 ? UInt128.Zero : UInt128.One << k;
            UInt128 next = start + size;
            if (k == 128 || next <= start || next - 1 >= end)
                break;
            start = next;
        }
        return blocks;
    }
}

/// <summary>One SA's selector pair as the outbound table sees it.</summary>
public sealed record SelectorEntry(IReadOnlyList<TrafficSelector> LocalTs, IReadOnlyList<TrafficSelector> RemoteTs);

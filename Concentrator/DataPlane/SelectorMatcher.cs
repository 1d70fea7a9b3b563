// Ownership/thread-safety: PacketFields is a plain value parsed per packet on the caller's stack.
// CompiledSelector and SelectorMatcher are immutable after construction and safe to share between
// any number of workers. Parsing and matching allocate nothing, take no lock and never throw on
// packet input (a packet that cannot be parsed simply matches nothing).
//
// Selector semantics (RFC 7296 §3.13.1, RFC 4301 §4.4.1): protocol 0 = any; ports 0..65535 = any;
// start port > end port = OPAQUE (matches only packets whose ports are unavailable, e.g. non-first
// fragments); for ICMP/ICMPv6 the "port" is Type << 8 | Code, in both directions. Packets without
// ports (other protocols, non-first fragments) match only ANY or OPAQUE port ranges.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane;

/// <summary>The selector-relevant fields of one IP packet. IPv4 addresses are stored as their 32-bit value.</summary>
public struct PacketFields
{
    public bool IsIpv6;
    public UInt128 Source;
    public UInt128 Destination;
    public byte Protocol;
    public bool HasPorts;
    public ushort SourcePort;
    public ushort DestinationPort;

    /// <summary>Parses an IPv4 or IPv6 packet's header (walking IPv6 extension headers). False when it is neither.</summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, out PacketFields fields)
    {
        fields = default;
        if (packet.IsEmpty)
            return false;
        int version = packet[0] >> 4;
        int offset;
        byte protocol;
        bool fragmentTail;
        if (version == 4)
        {
            if (packet.Length < 20)
                return false;
            int ihl = (packet[0] & 0x0F) * 4;
            if (ihl < 20 || ihl > packet.Length)
                return false;
            fields.Source = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(12));
            fields.Destination = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(16));
            protocol = packet[9];
            fragmentTail = (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(6)) & 0x1FFF) != 0;
            offset = ihl;
        }
        else if (version == 6)
        {
            if (packet.Length < 40)
                return false;
            fields.IsIpv6 = true;
            fields.Source = BinaryPrimitives.ReadUInt128BigEndian(packet.Slice(8));
            fields.Destination = BinaryPrimitives.ReadUInt128BigEndian(packet.Slice(24));
            protocol = packet[6];
            offset = 40;
            fragmentTail = false;
            // Bounded walk over extension headers (RFC 8200 §4).
            for (int i = 0; i < 8 && !fragmentTail; i++)
            {
                if (protocol is 0 or 43 or 60 or 51)
                {
                    if (offset + 2 > packet.Length)
                    {
                        offset = packet.Length;
                        break;
                    }
                    byte next = packet[offset];
                    int length = protocol == 51 ? (packet[offset + 1] + 2) * 4 : (packet[offset + 1] + 1) * 8;
                    offset += length;
                    protocol = next;
                }
                else if (protocol == 44)
                {
                    if (offset + 8 > packet.Length)
                    {
                        offset = packet.Length;
                        break;
                    }
                    byte next = packet[offset];
                    fragmentTail = (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(offset + 2)) & 0xFFF8) != 0;
                    offset += 8;
                    protocol = next;
                }
                else
                {
                    break;
                }
            }
        }
        else
        {
            return false;
        }

        fields.Protocol = protocol;
        if (fragmentTail || offset > packet.Length)
            return true;
        ReadOnlySpan<byte> l4 = packet.Slice(offset);
        switch (protocol)
        {
            case 6: // TCP
            case 17: // UDP
            case 132: // SCTP
            case 136: // UDP-Lite
                if (l4.Length >= 4)
                {
                    fields.HasPorts = true;
                    fields.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(l4);
                    fields.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(2));
                }
                break;
            case 1: // ICMP
            case 58: // ICMPv6
                if (l4.Length >= 2 && (protocol == 1) == !fields.IsIpv6)
                {
                    fields.HasPorts = true;
                    ushort typeCode = BinaryPrimitives.ReadUInt16BigEndian(l4);
                    fields.SourcePort = typeCode;
                    fields.DestinationPort = typeCode;
                }
                break;
        }
        return true;
    }
}

/// <summary>One traffic selector in matching form (addresses as integers).</summary>
public readonly struct CompiledSelector
{
    public readonly bool IsIpv6;
    public readonly byte Protocol;
    public readonly ushort StartPort;
    public readonly ushort EndPort;
    public readonly UInt128 Start;
    public readonly UInt128 End;

    public CompiledSelector(bool isIpv6, UInt128 start, UInt128 end, byte protocol, ushort startPort, ushort endPort)
    {
        IsIpv6 = isIpv6;
        Start = start;
        End = end;
        Protocol = protocol;
        StartPort = startPort;
        EndPort = endPort;
    }

    public static CompiledSelector From(TrafficSelector ts)
    {
        ArgumentNullException.ThrowIfNull(ts);
        Span<byte> scratch = stackalloc byte[16];
        bool v6 = ts.Type == TsType.Ipv6AddressRange;
        if (!SelectorMatch.TryToInteger(ts.StartAddress, v6, scratch, out UInt128 start) ||
            !SelectorMatch.TryToInteger(ts.EndAddress, v6, scratch, out UInt128 end))
            throw new ArgumentException("Traffic selector addresses do not match its TS type.", nameof(ts));
        return new CompiledSelector(v6, start, end, ts.IpProtocol, ts.StartPort, ts.EndPort);
    }

    public bool IsAnyPort => StartPort == 0 && EndPort == ushort.MaxValue;

    /// <summary>The address (source or destination) is in range and protocol/ports match.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Matches(in PacketFields packet, bool useSource)
    {
        if (IsIpv6 != packet.IsIpv6)
            return false;
        UInt128 address = useSource ? packet.Source : packet.Destination;
        if (address < Start || address > End)
            return false;
        return MatchesProtocolAndPort(in packet, useSource);
    }

    /// <summary>Protocol and port part only (the address was matched elsewhere, e.g. by a prefix table).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MatchesProtocolAndPort(in PacketFields packet, bool useSource)
    {
        if (Protocol != 0 && Protocol != packet.Protocol)
            return false;
        if (StartPort == 0 && EndPort == ushort.MaxValue)
            return true;
        if (StartPort > EndPort)
            return !packet.HasPorts; // OPAQUE
        if (!packet.HasPorts)
            return false;
        ushort port = useSource ? packet.SourcePort : packet.DestinationPort;
        return port >= StartPort && port <= EndPort;
    }
}

/// <summary>
/// A precompiled list of traffic selectors (e.g. one SA's TSr) for the inbound check of RFC 4301
/// §5.2: after decryption the inner packet's source must match the remote selectors and its
/// destination the local ones. Immutable; shareable between workers; matching allocates nothing.
/// </summary>
public sealed class SelectorMatcher
{
    private readonly CompiledSelector[] _selectors;

    public SelectorMatcher(IReadOnlyList<TrafficSelector> selectors)
    {
        ArgumentNullException.ThrowIfNull(selectors);
        _selectors = new CompiledSelector[selectors.Count];
        for (int i = 0; i < _selectors.Length; i++)
            _selectors[i] = CompiledSelector.From(selectors[i]);
    }

    public int Count => _selectors.Length;

    public bool Matches(ReadOnlySpan<byte> packet, bool useSource)
        => PacketFields.TryParse(packet, out PacketFields fields) && Matches(in fields, useSource);

    public bool Matches(in PacketFields packet, bool useSource)
    {
        CompiledSelector[] selectors = _selectors;
        for (int i = 0; i < selectors.Length; i++)
        {
            if (selectors[i].Matches(in packet, useSource))
                return true;
        }
        return false;
    }

    /// <summary>RFC 4301 §5.2 for a decrypted tunnel-mode packet: source ∈ remote TS and destination ∈ local TS.</summary>
    public static bool InboundAllowed(SelectorMatcher remoteTs, SelectorMatcher localTs, ReadOnlySpan<byte> innerPacket)
        => PacketFields.TryParse(innerPacket, out PacketFields fields)
           && remoteTs.Matches(in fields, useSource: true)
           && localTs.Matches(in fields, useSource: false);
}

/// <summary>Selector matching without precompilation (allocation-free, slower than <see cref="SelectorMatcher"/>).</summary>
public static class SelectorMatch
{
    /// <summary>
    /// True when the packet's source (<paramref name="useSource"/>) or destination address, protocol
    /// and the corresponding port match at least one selector of <paramref name="ts"/>.
    /// </summary>
    public static bool Matches(IReadOnlyList<TrafficSelector> ts, ReadOnlySpan<byte> packet, bool useSource)
    {
        if (!PacketFields.TryParse(packet, out PacketFields fields))
            return false;
        Span<byte> scratch = stackalloc byte[16];
        int count = ts.Count;
        for (int i = 0; i < count; i++)
        {
            TrafficSelector s = ts[i];
            bool v6 = s.Type == TsType.Ipv6AddressRange;
            if (v6 != fields.IsIpv6)
                continue;
            if (!TryToInteger(s.StartAddress, v6, scratch, out UInt128 start) || !TryToInteger(s.EndAddress, v6, scratch, out UInt128 end))
                continue;
            var compiled = new CompiledSelector(v6, start, end, s.IpProtocol, s.StartPort, s.EndPort);
            if (compiled.Matches(in fields, useSource))
                return true;
        }
        return false;
    }

    internal static bool TryToInteger(IPAddress address, bool v6, Span<byte> scratch, out UInt128 value)
    {
        value = default;
        if (address.AddressFamily != (v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork))
            return false;
        if (!address.TryWriteBytes(scratch, out int written))
            return false;
        value = v6 ? BinaryPrimitives.ReadUInt128BigEndian(scratch) : BinaryPrimitives.ReadUInt32BigEndian(scratch);
        return written == (v6 ? 16 : 4);
    }
}

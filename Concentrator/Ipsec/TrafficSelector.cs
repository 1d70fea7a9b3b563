using System.Net;

namespace Concentrator.Ipsec;

/// <summary>Traffic selector types, RFC 7296 §3.13.1.</summary>
public enum TsType : byte
{
    Ipv4AddressRange = 7,
    Ipv6AddressRange = 8,
}

/// <summary>One traffic selector (RFC 7296 §3.13.1): an address range, a port range and an IP protocol (0 = any).
/// The wire form is <c>Ike/Wire/TsPayload.cs</c>; the data plane matches packets against these.</summary>
public sealed record TrafficSelector(TsType Type, byte IpProtocol, ushort StartPort, ushort EndPort, IPAddress StartAddress, IPAddress EndAddress);

using System.Net;

namespace Concentrator.Ike.Wire.V1;

/// <summary>
/// An IKEv1 datagram as the demux hands it on (ISAKMP major version 1 on the ports IKEv2 uses): the bytes, the header
/// parsed once, and where it came from and arrived. <paramref name="ViaNatT"/>: received on the NAT-T port behind the
/// non-ESP marker (RFC 3948 §2.2), which the transport removed.
/// </summary>
public sealed record V1Inbound(byte[] Datagram, IsakmpHeader Header, IPEndPoint Remote, IPEndPoint Local, bool ViaNatT);

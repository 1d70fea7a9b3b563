using System.Net;

namespace Concentrator.Ike.Wire;

/// <summary>
/// One IKE datagram as received (non-ESP marker stripped) with its header, parsed once where it entered the node and
/// carried with the bytes to the SA that processes it. <c>Local</c> is the address it was sent to.
/// </summary>
public sealed record IkeInbound(byte[] Datagram, IkeHeader Header, IPEndPoint Remote, IPEndPoint Local, bool ViaNatT);

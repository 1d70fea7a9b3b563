using System.Buffers.Binary;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Sa;

/// <summary>
/// Our response to the peer's request with <paramref name="MessageId"/>, and the request it answered (its first fragment
/// when fragmented). <paramref name="Response"/> is the response as sent: one datagram, or its fragments back to back,
/// each carrying its own length in its IKE header (RFC 7296 §3.1), so one byte string replicates either.
/// </summary>
public sealed record CachedResponse(uint MessageId, byte[] Request, byte[] Response)
{
    /// <summary>The datagrams of a response, back to back.</summary>
    public static byte[] Join(byte[][] packets)
    {
        if (packets.Length == 1) return packets[0];
        var joined = new byte[packets.Sum(p => p.Length)];
        int offset = 0;
        foreach (var p in packets)
        {
            p.CopyTo(joined, offset);
            offset += p.Length;
        }
        return joined;
    }

    /// <summary>
    /// The datagrams of <see cref="Response"/>, split at the lengths in their headers. A response replicated by another node
    /// is not trusted: a length that is not a whole IKE message within what is left ends the list there (a lone datagram
    /// whose header does not match is returned whole, as it was cached).
    /// </summary>
    public byte[][] Packets()
    {
        var packets = new List<byte[]>();
        int offset = 0;
        while (Response.Length - offset >= ProtocolConstants.IkeHeaderLength)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(Response.AsSpan(offset + 24));
            if (length < ProtocolConstants.IkeHeaderLength || length > (uint)(Response.Length - offset)) break;
            if (offset == 0 && length == Response.Length) return [Response];
            packets.Add(Response.AsSpan(offset, (int)length).ToArray());
            offset += (int)length;
        }
        return packets.Count == 0 ? [Response] : [.. packets];
    }
}

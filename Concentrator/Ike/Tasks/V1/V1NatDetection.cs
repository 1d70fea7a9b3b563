using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// NAT detection of main mode messages 3 and 4 (RFC 3947 §3.2, strongSwan's isakmp_natd): NAT-D payloads hashing
/// CKY-I | CKY-R | IP | port with the negotiated hash, the first for the receiver's address (the datagram's
/// destination), then ours. With <c>encap</c> our own is a random value, so the peer sees a NAT and both ends float
/// to 4500 (as strongSwan's encap = yes does). The payload number is RFC 3947's (20) or the drafts' (130).
/// </summary>
public static class V1NatDetection
{
    public static V1PayloadType PayloadType(NatTVersion v) => v == NatTVersion.Rfc3947 ? V1PayloadType.NatD : V1PayloadType.NatDDraft;

    public static byte[] Hash(IkeV1Sa sa, IPEndPoint endpoint)
    {
        var address = endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address;
        int ipLength = address.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;
        var input = new byte[16 + ipLength + 2];
        BinaryPrimitives.WriteUInt64BigEndian(input, sa.CookieI);
        BinaryPrimitives.WriteUInt64BigEndian(input.AsSpan(8), sa.CookieR);
        address.TryWriteBytes(input.AsSpan(16, ipLength), out _);
        BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(16 + ipLength), (ushort)endpoint.Port);
        return V1KeyDerivation.Hash(sa.Prf!, input);
    }

    /// <summary>Appends the two NAT-D payloads (none when NAT-T was not agreed).</summary>
    public static void Add(IkeV1Sa sa, List<V1Payload> payloads)
    {
        if (sa.NatTVersion == NatTVersion.None) return;
        var type = PayloadType(sa.NatTVersion);
        payloads.Add(new V1DataPayload(type, Hash(sa, sa.RemoteEndpoint)));
        byte[] own = sa.Connection is { Encap: true } ? RandomNumberGenerator.GetBytes(sa.Prf!.OutputLength) : Hash(sa, sa.LocalEndpoint);
        payloads.Add(new V1DataPayload(type, own));
    }

    /// <summary>
    /// Reads the peer's NAT-D payloads: the first names us as it sent to us (a mismatch: we are behind a NAT), the
    /// others its own addresses (none matching: it is behind one, or fakes it). No NAT-D while NAT-T was agreed means
    /// the peer does no detection; nothing is assumed.
    /// </summary>
    public static void Process(IkeV1Sa sa, IReadOnlyList<V1Payload> payloads, IPEndPoint local, IPEndPoint remote)
    {
        if (sa.NatTVersion == NatTVersion.None) return;
        var type = PayloadType(sa.NatTVersion);
        var natd = payloads.OfType<V1DataPayload>().Where(p => p.Type == type).ToList();
        if (natd.Count < 2) return;
        sa.BehindNat = !natd[0].Data.AsSpan().SequenceEqual(Hash(sa, local));
        byte[] peer = Hash(sa, remote);
        bool match = false;
        for (int i = 1; i < natd.Count; i++) match |= natd[i].Data.AsSpan().SequenceEqual(peer);
        sa.PeerBehindNat = !match || sa.Connection is { Encap: true };
    }
}

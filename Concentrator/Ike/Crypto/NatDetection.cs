using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Concentrator.Ike.Crypto;

/// <summary>NAT_DETECTION_*_IP notification data (RFC 7296 §2.23).</summary>
public static class NatDetection
{
    public const int HashLength = 20;

    /// <summary>
    /// RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | Port), IP as 4 or 16 octets and port as 2, network order.
    /// An IPv4-mapped IPv6 address (dual-mode socket) is hashed as the IPv4 address the peer sees.
    /// </summary>
    public static byte[] Hash(ulong spii, ulong spir, IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var address = endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address;
        int ipLength = address.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;

        Span<byte> input = stackalloc byte[8 + 8 + 16 + 2];
        BinaryPrimitives.WriteUInt64BigEndian(input, spii);
        BinaryPrimitives.WriteUInt64BigEndian(input[8..], spir);
        if (!address.TryWriteBytes(input.Slice(16, ipLength), out int written) || written != ipLength)
        {
            throw new ArgumentException($"cannot encode {address}", nameof(endpoint));
        }
        BinaryPrimitives.WriteUInt16BigEndian(input[(16 + ipLength)..], (ushort)endpoint.Port);

        return SHA1.HashData(input[..(16 + ipLength + 2)]);
    }
}

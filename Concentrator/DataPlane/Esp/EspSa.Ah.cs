using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Concentrator.Ipsec;

namespace Concentrator.DataPlane.Esp;

/// <summary>
/// An AH SA (RFC 4302) is an <see cref="EspSa"/> whose protocol is <see cref="IpsecProtocol.Ah"/>: the same table entry,
/// lifetime reference, sequence counter (ESN, overflow refused), replay window, counters and selectors; no cipher (the
/// ICV is a one-shot HMAC, <see cref="AhIcv"/>, thread-safe without per-sender state), the integrity keys at
/// <c>_keys[1]</c> (inbound) and <c>_keys[3]</c> (outbound), and the outer addresses AH writes into the IP header it
/// authenticates. Its lanes carry the outbound counters only.
/// </summary>
public sealed partial class EspSa
{
    private int _ahIcvLength;
    private uint _localV4;
    private UInt128 _localV6;

    public IpsecProtocol Protocol { get; }

    /// <summary>AH: truncated ICV bytes of the suite's integrity algorithm.</summary>
    internal int AhIcvLength => _ahIcvLength;

    internal ReadOnlySpan<byte> AhInboundKey => _keys[1];
    internal ReadOnlySpan<byte> AhOutboundKey => _keys[3];

    /// <summary>Our outer IPv4 address (host order; 0 for IPv6).</summary>
    internal uint LocalAddressV4 => _localV4;

    /// <summary>Our outer IPv6 address (host order; 0 for IPv4).</summary>
    internal UInt128 LocalAddressV6 => _localV6;

    /// <summary>AH header bytes this SA sends and accepts over the outer family (RFC 4302 §2.6 padding).</summary>
    internal int AhHeaderLength(bool ipv6) => AhHeader.LengthFor(_ahIcvLength, ipv6);

    private void InitAh(ChildSaInstall install)
    {
        if (install.Suite.Encryption is not (EncrAlgorithm.Null or EncrAlgorithm.None))
            throw new NotSupportedException("An AH SA carries no encryption (RFC 4302).");
        if (!AhIcv.IsSupported(install.Suite.Integrity))
            throw new NotSupportedException($"AH integrity {install.Suite.Integrity} is not supported.");
        int keyLength = Algorithms.IntegrityKeyLength(install.Suite.Integrity);
        if (install.InboundIntegrityKey.Length != keyLength || install.OutboundIntegrityKey.Length != keyLength)
            throw new ArgumentException($"AH {install.Suite.Integrity} keys must be {keyLength} bytes.");
        _ahIcvLength = AhIcv.IcvLength(install.Suite.Integrity);
        var local = install.LocalEndpoint.Address;
        if (local.IsIPv4MappedToIPv6) local = local.MapToIPv4();
        Span<byte> b = stackalloc byte[16];
        if (local.AddressFamily == AddressFamily.InterNetworkV6)
        {
            local.TryWriteBytes(b, out _);
            _localV6 = BinaryPrimitives.ReadUInt128BigEndian(b);
        }
        else
        {
            local.TryWriteBytes(b, out _);
            _localV4 = BinaryPrimitives.ReadUInt32BigEndian(b);
        }
    }

    /// <summary>The ESP transform of one direction; none for AH.</summary>
    private EspCipher CreateCipher(byte[] encryptionKey, byte[] integrityKey) =>
        Protocol == IpsecProtocol.Ah ? null! : EspCipher.Create(Suite, encryptionKey, integrityKey);
}

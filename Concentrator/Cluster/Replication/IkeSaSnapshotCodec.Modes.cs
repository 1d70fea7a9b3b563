using System.Net.Sockets;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Cluster.Replication;

public static partial class IkeSaSnapshotCodec
{
    /// <summary>Version 1 followed by the virtual IPs (none or more), the EAP login if any, and each child's IPsec mode;
    /// written only for an SA with a transport-mode child, so every other snapshot stays readable by nodes that know
    /// versions 1 to 3 (a node that does not know version 4 refuses the SA rather than adopting it in tunnel mode).</summary>
    public const byte VersionWithModes = 4;

    private static bool HasTransportChild(IkeSaSnapshot s)
    {
        foreach (var c in s.Children)
        {
            if (c.Mode != IpsecMode.Tunnel) return true;
        }
        return false;
    }

    private static void WriteModesTrailer(ref SpanWriter w, IkeSaSnapshot s)
    {
        w.WriteUInt8(checked((byte)s.VirtualIps.Count));
        foreach (var vip in s.VirtualIps)
        {
            WriteString(ref w, vip.Pool);
            WriteAddress(ref w, vip.Address);
        }
        w.WriteUInt8(s.EapIdentity is null ? (byte)0 : (byte)1);
        if (s.EapIdentity is not null)
        {
            WriteIdentity(ref w, s.EapIdentity);
            WriteString(ref w, s.LoginMethod ?? "");
        }
        foreach (var c in s.Children) w.WriteUInt8((byte)c.Mode);
    }

    private static int ModesTrailerLength(IkeSaSnapshot s)
    {
        int n = 1;
        foreach (var vip in s.VirtualIps) n += StringLength(vip.Pool) + 1 + (vip.Address.AddressFamily == AddressFamily.InterNetworkV6 ? 16 : 4);
        n += 1;
        if (s.EapIdentity is not null) n += IdentityLength(s.EapIdentity) + StringLength(s.LoginMethod ?? "");
        return n + s.Children.Count;
    }

    /// <summary>Version 4's trailer; the modes replace those of <paramref name="children"/> (read as tunnel).</summary>
    private static ParseStatus ReadModesTrailer(ref SpanReader r, List<VirtualIp> vips, List<ChildSaSnapshot> children,
        out Identity? eapIdentity, out string? loginMethod)
    {
        eapIdentity = null;
        loginMethod = null;
        ParseStatus st;
        if ((st = ReadVirtualIps(ref r, vips, allowNone: true)) != ParseStatus.Ok) return st;
        if (!r.TryReadUInt8(out byte eap)) return ParseStatus.Truncated;
        if (eap > 1) return ParseStatus.InvalidSyntax;
        if (eap == 1)
        {
            if ((st = ReadIdentity(ref r, out eapIdentity)) != ParseStatus.Ok || (st = ReadString(ref r, out loginMethod)) != ParseStatus.Ok) return st;
            if (eapIdentity is null) return ParseStatus.InvalidSyntax;
        }
        bool anyTransport = false;
        for (int i = 0; i < children.Count; i++)
        {
            if (!r.TryReadUInt8(out byte mode)) return ParseStatus.Truncated;
            if (mode > (byte)IpsecMode.Transport) return ParseStatus.InvalidSyntax;
            anyTransport |= mode == (byte)IpsecMode.Transport;
            children[i] = children[i] with { Mode = (IpsecMode)mode };
        }
        // Written only with a transport child: anything else is not what an encoder wrote.
        return anyTransport ? ParseStatus.Ok : ParseStatus.InvalidSyntax;
    }
}

// UDP generic receive offload (UDP_GRO, include/uapi/linux/udp.h; net/ipv4/udp.c udp_cmsg_recv): with the option set
// the kernel may hand one socket read a datagram made of several datagrams of one flow, all but the last exactly
// gso_size bytes long, and says so with a (SOL_UDP, UDP_GRO) control message whose int payload is gso_size.
// struct cmsghdr on LP64: size_t cmsg_len | int cmsg_level | int cmsg_type | data (8-byte aligned).
namespace Concentrator.DataPlane.Linux;

public static unsafe partial class LibC
{
    public const int SOL_UDP = 17;
    public const int UDP_GRO = 104;
    public const int MSG_CTRUNC = 0x08;

    /// <summary>sizeof(struct cmsghdr) on LP64 (CMSG_ALIGN'ed): where a control message's data starts.</summary>
    public const int CMsgHeaderLength = 16;

    /// <summary>CMSG_SPACE(sizeof(int)): room for one UDP_GRO control message.</summary>
    public const int CMsgSpaceInt = CMsgHeaderLength + 8;

    /// <summary>
    /// The gso_size of a UDP_GRO control message in <paramref name="control"/> (the first <paramref name="length"/>
    /// bytes the kernel filled), a negative one read as 0 (invalid); -1 when there is none. Walks the messages as CMSG_NXTHDR does and stops at anything
    /// that would reach past <paramref name="length"/>.
    /// </summary>
    public static int FindUdpGroSize(byte* control, nuint length)
    {
        nuint offset = 0;
        while (offset + CMsgHeaderLength <= length)
        {
            nuint cmsgLength = *(nuint*)(control + offset);
            if (cmsgLength < CMsgHeaderLength || cmsgLength > length - offset)
                return -1;
            int level = *(int*)(control + offset + 8);
            int type = *(int*)(control + offset + 12);
            if (level == SOL_UDP && type == UDP_GRO && cmsgLength >= CMsgHeaderLength + sizeof(int))
                return Math.Max(*(int*)(control + offset + CMsgHeaderLength), 0);
            offset += (cmsgLength + 7) & ~(nuint)7;
        }
        return -1;
    }
}

// The segmentation offloads of the outbound path (TUN TSO reads, UDP GSO sends): constants only, see LibC.cs.
namespace Concentrator.DataPlane.Linux;

public static partial class LibC
{
    // <linux/if_tun.h>: TUNSETOFFLOAD flags (what user space accepts from the kernel on read)
    public const uint TUN_F_CSUM = 0x01;
    public const uint TUN_F_TSO4 = 0x02;
    public const uint TUN_F_TSO6 = 0x04;

    // <linux/udp.h>: the GSO segment size of a send, as a socket option or a per-message cmsg (level IPPROTO_UDP)
    public const int UDP_SEGMENT = 103;

    // <asm-generic/errno-base.h>
    public const int EIO = 5;
}

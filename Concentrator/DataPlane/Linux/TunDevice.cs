// Ownership/thread-safety: reads of queue q come from one thread at a time, writes of queue q from
// one or more threads (each write is one syscall; the kernel serialises them); different queues in
// parallel are fine. Create, SetMtu, SetUp and Dispose are control-plane calls; Dispose only after every
// worker stopped. The device is not persistent: closing the last queue fd makes the kernel remove it.
// Queue fds are non-blocking; waiting uses a bounded poll so a worker can stop. No allocation, locks or
// exceptions per packet (the virtio-net header and iovecs of a read or write live on the stack).
//
// Every queue is opened with IFF_VNET_HDR: each read and write carries a 10-byte struct virtio_net_hdr
// (TUNSETVNETHDRSZ 10; the 12-byte num_buffers form is only for mergeable virtio rx rings) in front of
// the IP packet. Offloads towards user space stay off (TUNSETOFFLOAD 0) unless TSO is asked for, so the kernel
// segments and checksums everything before a read: reads carry gso_type NONE. A TSO device (TunTso) instead
// reads TCP super-packets and partial checksums, which TsoReader splits and completes. Writes may carry a GSO super-packet
// (TunOffload's TCP coalescing) that the kernel forwards whole and segments only where needed.
using System.Net.Sockets;

namespace Concentrator.DataPlane.Linux;

public sealed unsafe class TunDevice : IDisposable
{
    private readonly int[] _fds;
    private int _disposed;

    private TunDevice(string name, int[] fds, bool multiQueue)
    {
        Name = name;
        _fds = fds;
        MultiQueue = multiQueue;
    }

    /// <summary>The interface name the kernel gave the device (the requested one, or e.g. tun3 for "tun%d").</summary>
    public string Name { get; }
    public int QueueCount => _fds.Length;
    public bool MultiQueue { get; }

    /// <summary>Packets a read skipped because the kernel handed over something the device never enabled
    /// (a GSO frame, or a partial checksum outside the packet). Expected 0; counted, never thrown.</summary>
    public long UnexpectedOffloads => Interlocked.Read(ref _unexpectedOffloads);

    private long _unexpectedOffloads;

    /// <summary>How long Read waits for a packet (ms; -1 = forever).</summary>
    public int ReadTimeoutMs { get; set; } = 100;

    public int QueueHandle(int queue) => _fds[queue];

    /// <summary>
    /// Creates a TUN device <paramref name="name"/> (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR) with <paramref name="queues"/>
    /// queue fds; more than one queue (or <paramref name="multiQueue"/>) sets IFF_MULTI_QUEUE. When
    /// <paramref name="mtu"/> &gt; 0 it is set, and with <paramref name="up"/> the link is brought up,
    /// both by ioctl on an AF_INET datagram socket in the caller's network namespace. With <paramref name="tso"/> the
    /// device offers checksum and TCP segmentation offload: reads may then be GSO super-packets (TunTso). Throws on failure.
    /// </summary>
    public static TunDevice Create(string name, int queues = 1, bool multiQueue = false, int mtu = 0, bool up = false, bool tso = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (queues <= 0 || queues > 256)
            throw new ArgumentOutOfRangeException(nameof(queues));
        multiQueue |= queues > 1;
        var fds = new int[queues];
        int opened = 0;
        string actual = name;
        try
        {
            for (int q = 0; q < queues; q++)
            {
                int fd = LibC.Open("/dev/net/tun", LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
                if (fd < 0)
                    throw new IOException($"open /dev/net/tun: {LibC.Describe(LibC.Errno())}");
                fds[q] = fd;
                opened++;
                LibC.IfReq req = default;
                if (!LibC.TrySetName(ref req, actual))
                    throw new ArgumentException($"Invalid interface name '{name}' (1..15 printable characters).", nameof(name));
                req.Flags = (short)(LibC.IFF_TUN | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR | (multiQueue ? LibC.IFF_MULTI_QUEUE : 0));
                if (LibC.ioctl(fd, LibC.TUNSETIFF, &req) != 0)
                    throw new IOException($"TUNSETIFF {actual}: {LibC.Describe(LibC.Errno())}");
                actual = LibC.GetName(ref req);
            }

            // Per device, through any queue: the header size and the (absent) offloads towards user space.
            int headerSize = LibC.VirtioNetHdrLength;
            if (LibC.ioctl(fds[0], LibC.TUNSETVNETHDRSZ, &headerSize) != 0)
                throw new IOException($"TUNSETVNETHDRSZ {actual}: {LibC.Describe(LibC.Errno())}");
            // The argument is the flag value itself: 0, or TSO (TunTso.Offloads).
            if (LibC.ioctl(fds[0], LibC.TUNSETOFFLOAD, (void*)(nuint)(tso ? TunTso.Offloads : 0)) != 0)
                throw new IOException($"TUNSETOFFLOAD {actual}: {LibC.Describe(LibC.Errno())}");
        }
        catch
        {
            for (int q = 0; q < opened; q++)
                LibC.close(fds[q]);
            throw;
        }
        var device = new TunDevice(actual, fds, multiQueue);
        try
        {
            if (mtu > 0)
                device.SetMtu(mtu);
            if (up)
                device.SetUp(true);
        }
        catch
        {
            device.Dispose();
            throw;
        }
        return device;
    }

    /// <summary>SIOCSIFMTU for this device in the calling thread's network namespace.</summary>
    public void SetMtu(int mtu) => InterfaceControl.SetMtu(Name, mtu);

    public int GetMtu() => InterfaceControl.GetMtu(Name);

    /// <summary>Sets or clears IFF_UP (SIOCGIFFLAGS + SIOCSIFFLAGS) in the calling thread's network namespace.</summary>
    public void SetUp(bool up = true) => InterfaceControl.SetUp(Name, up);

    /// <summary>
    /// Reads one packet of queue <paramref name="queue"/> into <paramref name="buffer"/>, waiting at
    /// most <see cref="ReadTimeoutMs"/>. Returns its length, 0 on timeout/EINTR, or -errno.
    /// </summary>
    public int Read(int queue, Span<byte> buffer) => Read(queue, buffer, ReadTimeoutMs);

    public int Read(int queue, Span<byte> buffer, int timeoutMs)
    {
        byte* header = stackalloc byte[LibC.VirtioNetHdrLength];
        LibC.IoVec* iov = stackalloc LibC.IoVec[2];
        fixed (byte* p = buffer)
        {
            iov[0].Base = header;
            iov[0].Length = LibC.VirtioNetHdrLength;
            iov[1].Base = p;
            iov[1].Length = (nuint)buffer.Length;
            // Bounded: at most a few skipped frames, each read waiting only if it is the first.
            for (int attempt = 0; attempt < 8; attempt++)
            {
                int length = ReadFrame(queue, iov, 2, attempt == 0 ? timeoutMs : 0);
                if (length <= 0)
                    return length;
                if (TunOffload.CompleteRead(header, buffer.Slice(0, Math.Min(length, buffer.Length))))
                    return length;
                Interlocked.Increment(ref _unexpectedOffloads);
            }
            return 0;
        }
    }

    /// <summary>
    /// One readv of queue <paramref name="queue"/> into <paramref name="count"/> iovecs, the first of which takes the
    /// 10-byte virtio-net header (unchecked: the caller checks it), waiting at most <paramref name="timeoutMs"/> for
    /// a frame. Returns the bytes after the header, 0 on timeout/EINTR (or a frame without a packet), or -errno.
    /// </summary>
    public int ReadFrame(int queue, LibC.IoVec* iov, int count, int timeoutMs)
    {
        int fd = _fds[queue];
        nint n = LibC.readv(fd, iov, count);
        if (n < 0)
        {
            int err = LibC.Errno();
            if (!LibC.IsTransient(err))
                return -err;
            if (timeoutMs == 0)
                return 0;
            int ready = BatchIo.WaitFor(fd, LibC.POLLIN, timeoutMs);
            if (ready <= 0)
                return ready;
            n = LibC.readv(fd, iov, count);
            if (n < 0)
            {
                err = LibC.Errno();
                return LibC.IsTransient(err) ? 0 : -err;
            }
        }
        return Math.Max(0, (int)n - LibC.VirtioNetHdrLength);
    }

    /// <summary>Writes one IP packet to queue <paramref name="queue"/> (delivered to the kernel stack) behind a
    /// zero virtio-net header (no GSO, checksums complete). Returns the packet's bytes or -errno.</summary>
    public int Write(int queue, ReadOnlySpan<byte> packet)
    {
        byte* header = stackalloc byte[LibC.VirtioNetHdrLength];
        new Span<byte>(header, LibC.VirtioNetHdrLength).Clear();
        LibC.IoVec* iov = stackalloc LibC.IoVec[2];
        fixed (byte* p = packet)
        {
            iov[0].Base = header;
            iov[0].Length = LibC.VirtioNetHdrLength;
            iov[1].Base = p;
            iov[1].Length = (nuint)packet.Length;
            return WriteVector(queue, iov, 2);
        }
    }

    /// <summary>
    /// Writes one frame gathered from <paramref name="count"/> iovecs, the first of which is the 10-byte
    /// virtio-net header. Returns the bytes after the header, or -errno (EAGAIN after a bounded wait).
    /// </summary>
    public int WriteVector(int queue, LibC.IoVec* iov, int count)
    {
        int fd = _fds[queue];
        for (int attempt = 0; attempt < 3; attempt++)
        {
            nint n = LibC.writev(fd, iov, count);
            if (n >= 0)
                return (int)n - LibC.VirtioNetHdrLength;
            int err = LibC.Errno();
            if (err == LibC.EINTR)
                continue;
            if (err != LibC.EAGAIN)
                return -err;
            if (BatchIo.WaitFor(fd, LibC.POLLOUT, 10) <= 0)
                return -err;
        }
        return -LibC.EAGAIN;
    }

    /// <summary>
    /// Reads up to batch.Capacity packets from one queue into the slots at the headroom (the first
    /// read may wait <paramref name="timeoutMs"/>, the rest do not). Addresses/Ports are zeroed.
    /// Returns the count, 0 on timeout, or -errno when the first read failed.
    /// </summary>
    public int ReadBatch(int queue, PacketBatch batch, int timeoutMs)
    {
        int count = 0;
        int headroom = batch.Headroom;
        for (int i = 0; i < batch.Capacity; i++)
        {
            int n = Read(queue, batch.Slot(i).Slice(headroom), i == 0 ? timeoutMs : 0);
            if (n <= 0)
            {
                if (i == 0 && n < 0)
                    return n;
                break;
            }
            batch.Offsets[i] = headroom;
            batch.Lengths[i] = n;
            batch.Addresses[i] = 0;
            batch.Ports[i] = 0;
            count++;
        }
        batch.Count = count;
        return count;
    }

    /// <summary>Writes packets [0, count) of the batch to one queue. Returns packets written.</summary>
    public int WriteBatch(int queue, PacketBatch batch, int count)
    {
        int written = 0;
        for (int i = 0; i < count && i < batch.Capacity; i++)
        {
            if (batch.Lengths[i] > 0 && Write(queue, batch.Packet(i)) > 0)
                written++;
        }
        return written;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        for (int q = 0; q < _fds.Length; q++)
        {
            if (_fds[q] >= 0)
                LibC.close(_fds[q]);
            _fds[q] = -1;
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>A leaked device is removed by the kernel once its fds are closed.</summary>
    ~TunDevice() => Dispose();
}

/// <summary>
/// Interface ioctls (MTU, up/down) through a short-lived AF_INET datagram socket in the calling
/// thread's network namespace. Control plane only: throws on failure. Thread-safe (no state).
/// </summary>
public static unsafe class InterfaceControl
{
    public static void SetMtu(string name, int mtu)
    {
        LibC.IfReq req = Request(name);
        req.Mtu = mtu;
        Ioctl(LibC.SIOCSIFMTU, ref req, "SIOCSIFMTU", name);
    }

    public static int GetMtu(string name)
    {
        LibC.IfReq req = Request(name);
        Ioctl(LibC.SIOCGIFMTU, ref req, "SIOCGIFMTU", name);
        return req.Mtu;
    }

    public static void SetUp(string name, bool up)
    {
        LibC.IfReq req = Request(name);
        Ioctl(LibC.SIOCGIFFLAGS, ref req, "SIOCGIFFLAGS", name);
        req.Flags = up ? (short)(req.Flags | LibC.IFF_UP) : (short)(req.Flags & ~LibC.IFF_UP);
        Ioctl(LibC.SIOCSIFFLAGS, ref req, "SIOCSIFFLAGS", name);
    }

    public static short GetFlags(string name)
    {
        LibC.IfReq req = Request(name);
        Ioctl(LibC.SIOCGIFFLAGS, ref req, "SIOCGIFFLAGS", name);
        return req.Flags;
    }

    private static LibC.IfReq Request(string name)
    {
        LibC.IfReq req = default;
        if (!LibC.TrySetName(ref req, name))
            throw new ArgumentException($"Invalid interface name '{name}'.", nameof(name));
        return req;
    }

    private static void Ioctl(uint request, ref LibC.IfReq req, string what, string name)
    {
        int fd = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
            throw LibC.LastSocketError();
        try
        {
            fixed (LibC.IfReq* p = &req)
            {
                if (LibC.ioctl(fd, request, p) != 0)
                    throw new IOException($"{what} {name}: {LibC.Describe(LibC.Errno())}");
            }
        }
        finally
        {
            LibC.close(fd);
        }
    }
}

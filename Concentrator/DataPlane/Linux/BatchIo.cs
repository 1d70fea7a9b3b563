// Ownership/thread-safety: stateless helpers shared by UdpBatchSocket and RawEspSocket. The caller
// owns both the (non-blocking) fd and the PacketBatch for the duration of a call; one worker per
// batch. No allocation, locks or exceptions: results are counts (>= 0) or negative errno values.
namespace Concentrator.DataPlane.Linux;

internal static unsafe class BatchIo
{
    /// <summary>
    /// One recvmmsg into the batch. If nothing is queued, waits with poll up to
    /// <paramref name="timeoutMs"/> (-1 = forever, 0 = never) and tries once more.
    /// Returns packets received, 0 on timeout/EINTR, or -errno.
    /// </summary>
    public static int Receive(int fd, PacketBatch batch, int timeoutMs)
    {
        batch.PrepareReceive();
        batch.Count = 0;
        // The fd is non-blocking; MSG_WAITFORONE keeps the call from waiting once one datagram is in.
        int n = LibC.recvmmsg(fd, batch.Headers, (uint)batch.Capacity, LibC.MSG_WAITFORONE, null);
        if (n < 0)
        {
            int err = LibC.Errno();
            if (!LibC.IsTransient(err))
                return -err;
            if (timeoutMs == 0)
                return 0;
            int ready = WaitFor(fd, LibC.POLLIN, timeoutMs);
            if (ready <= 0)
                return ready;
            n = LibC.recvmmsg(fd, batch.Headers, (uint)batch.Capacity, LibC.MSG_WAITFORONE, null);
            if (n < 0)
            {
                err = LibC.Errno();
                return LibC.IsTransient(err) ? 0 : -err;
            }
        }
        batch.CompleteReceive(n);
        return n;
    }

    /// <summary>
    /// Sends packets [0, count) with sendmmsg, resuming after partial sends. A packet the kernel
    /// refuses individually (EMSGSIZE, ECONNREFUSED, EHOSTUNREACH ...) is skipped; a full send
    /// buffer is waited on for at most <paramref name="waitMs"/> per stall, then the rest is dropped.
    /// Returns packets sent, or -errno when nothing could be sent because of a fd-level error.
    /// </summary>
    public static int Send(int fd, PacketBatch batch, int count, int waitMs)
    {
        if (count <= 0)
            return 0;
        if (count > batch.Capacity)
            count = batch.Capacity;
        batch.PrepareSend(0, count);
        int sent = 0;
        int next = 0;
        int stalls = 0;
        while (next < count)
        {
            int n = LibC.sendmmsg(fd, batch.Headers + next, (uint)(count - next), LibC.MSG_DONTWAIT);
            if (n > 0)
            {
                sent += n;
                next += n;
                continue;
            }
            int err = n < 0 ? LibC.Errno() : LibC.EAGAIN;
            if (err == LibC.EINTR)
                continue;
            if (err == LibC.EAGAIN || err == LibC.ENOBUFS)
            {
                // Bounded: at most 3 stalls per batch, each at most waitMs.
                if (++stalls > 3 || WaitFor(fd, LibC.POLLOUT, waitMs) <= 0)
                    break;
                continue;
            }
            if (err == LibC.EBADF || err == LibC.ENOTSOCK || err == LibC.EFAULT)
                return sent == 0 ? -err : sent;
            next++; // this packet is refused on its own: drop it and go on with the rest
        }
        return sent;
    }

    /// <summary>poll for input on either of two fds: &gt; 0 one is ready, 0 timeout or EINTR, -errno on error.</summary>
    public static int WaitForEither(int fd1, int fd2, int timeoutMs)
    {
        LibC.PollFd* p = stackalloc LibC.PollFd[2];
        p[0].Fd = fd1;
        p[0].Events = LibC.POLLIN;
        p[0].ReturnedEvents = 0;
        p[1].Fd = fd2;
        p[1].Events = LibC.POLLIN;
        p[1].ReturnedEvents = 0;
        int r = LibC.poll(p, 2, timeoutMs);
        if (r < 0)
        {
            int err = LibC.Errno();
            return err == LibC.EINTR ? 0 : -err;
        }
        if (((p[0].ReturnedEvents | p[1].ReturnedEvents) & LibC.POLLNVAL) != 0)
            return -LibC.EBADF;
        return r;
    }

    /// <summary>poll for one fd: 1 ready, 0 timeout or EINTR, -errno on error.</summary>
    public static int WaitFor(int fd, short events, int timeoutMs)
    {
        LibC.PollFd p;
        p.Fd = fd;
        p.Events = events;
        p.ReturnedEvents = 0;
        int r = LibC.poll(&p, 1, timeoutMs);
        if (r < 0)
        {
            int err = LibC.Errno();
            return err == LibC.EINTR ? 0 : -err;
        }
        if (r == 0)
            return 0;
        if ((p.ReturnedEvents & LibC.POLLNVAL) != 0)
            return -LibC.EBADF;
        return 1;
    }
}

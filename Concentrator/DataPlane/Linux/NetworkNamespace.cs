// Ownership/thread-safety: stateless, control plane only. setns(2) changes the network namespace of
// the calling OS thread only, so Run does its work on a dedicated thread that ends afterwards: no
// pooled thread is ever left in another namespace. Sockets and TUN queues created inside keep the
// namespace they were created in for their whole life, whichever thread later uses them.
namespace Concentrator.DataPlane.Linux;

public static class NetworkNamespace
{
    /// <summary>Path of a named namespace as `ip netns add` creates it.</summary>
    public static string PathOf(string name) => "/var/run/netns/" + name;

    /// <summary>
    /// Runs <paramref name="work"/> on a fresh thread that first joins the network namespace at
    /// <paramref name="path"/> (e.g. /var/run/netns/NAME or /proc/PID/ns/net) and returns its result.
    /// Exceptions of <paramref name="work"/> are rethrown here. Needs CAP_SYS_ADMIN.
    /// </summary>
    public static T Run<T>(string path, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC);
                if (fd < 0)
                    throw new IOException($"open {path}: {LibC.Describe(LibC.Errno())}");
                try
                {
                    if (LibC.setns(fd, LibC.CLONE_NEWNET) != 0)
                        throw new IOException($"setns {path}: {LibC.Describe(LibC.Errno())}");
                }
                finally
                {
                    LibC.close(fd);
                }
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = "netns",
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        return result;
    }

    public static void Run(string path, Action work) => Run<int>(path, () => { work(); return 0; });
}

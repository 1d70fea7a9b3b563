using System.Net.Sockets;
using Concentrator.Transport;

namespace Concentrator.Cli;

/// <summary>
/// <c>run</c> could not start for a reason of its environment, not of the configuration file: a port taken, a privilege
/// missing. <see cref="CliApp"/> prints its message as one line on stderr and exits 1 (a configuration error exits 2).
/// </summary>
public sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The one mapping from what the start-up paths throw (UDP binds, the TUN device, the actor system, Kestrel's bind) to a
/// <see cref="StartupException"/> whose one line names the address, port or device and the config key behind it.
/// </summary>
internal static class StartupErrors
{
    public static StartupException DataPlane(Exception ex, string source) => ex switch
    {
        PortBindException bind => new(Listen(bind, source), ex),
        _ => new($"cannot start the TUN data plane ({Innermost(ex)}); it needs CAP_NET_ADMIN (root), "
            + $"or set 'tunnel: {{ type: none }}' in {source} for IKE only", ex),
    };

    public static StartupException Gateway(Exception ex, string source) => ex switch
    {
        PortBindException bind => new(Listen(bind, source), ex),
        _ => new($"cannot start the gateway: {Innermost(ex)}", ex),
    };

    /// <summary>Kestrel wraps the socket's error in an IOException ("Failed to bind to address ..."): the reason is taken
    /// from the SocketException beneath it, the address from http.listen.</summary>
    public static StartupException Http(Exception ex, string listen, string source)
    {
        string reason = Find<SocketException>(ex) is { } socket ? PortBindException.Reason(socket.SocketErrorCode) : Innermost(ex);
        return new($"cannot serve HTTP on {listen} (http.listen in {source}): {reason}", ex);
    }

    private static string Listen(PortBindException bind, string source) =>
        $"{bind.Message}; see listen in {source}";

    private static T? Find<T>(Exception? ex) where T : Exception
    {
        for (int depth = 0; ex is not null && depth < 16; depth++, ex = ex.InnerException)
        {
            if (ex is T found) return found;
            if (ex is AggregateException { InnerExceptions.Count: > 0 } aggregate) ex = aggregate.InnerExceptions[0];
            if (ex is T again) return again;
        }
        return null;
    }

    /// <summary>The message of the innermost exception, on one line.</summary>
    private static string Innermost(Exception ex) => ex.GetBaseException().Message.ReplaceLineEndings(" ").Trim();
}

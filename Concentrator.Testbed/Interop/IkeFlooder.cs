using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;

namespace Concentrator.Testbed.Interop;

/// <summary>
/// An IKE_SA_INIT flood from inside a namespace of the testbed: valid requests (<see cref="InitRequests"/>) with
/// source addresses spoofed from a /16 through a raw socket (IP_HDRINCL), paced to a rate and bounded in time.
/// The replies to the spoofed sources are routed back into the flooder's namespace and dropped there. A second,
/// smaller stream comes from the namespace's own address through an ordinary socket and answers every COOKIE,
/// as an attacker with a real address would; it is what block_threshold stops. A third stream, when asked for, claims
/// one given address (a host that exists elsewhere, e.g. a NAT with real users behind it): spoofed like the first, so
/// the replies go to that host, never to the flooder.
/// The sockets are made on a thread switched into the namespace with setns(2), which affects only the calling
/// thread; a socket keeps the namespace it was made in, so the rest of the test process stays where it was.
/// </summary>
public sealed class IkeFlooder : IAsyncDisposable
{
    private const int CloneNewNet = 0x40000000;
    private const int IpHeaderLength = 20;
    private const int UdpHeaderLength = 8;

    private readonly InitRequests _requests = new();
    private readonly Socket _raw;
    private readonly Socket _real;
    private readonly IPEndPoint _target;
    private readonly uint _sourceBase;
    private readonly int _sources;
    private readonly CancellationTokenSource _stop = new();
    private Task _sender = Task.CompletedTask;
    private Task _receiver = Task.CompletedTask;
    private long _spoofedSent, _realSent, _claimedSent, _cookiesAnswered, _admitted;

    private IkeFlooder(Socket raw, Socket real, IPEndPoint target, IPAddress sourceBase, int sources)
    {
        _raw = raw;
        _real = real;
        _target = target;
        _sourceBase = BinaryPrimitives.ReadUInt32BigEndian(sourceBase.GetAddressBytes());
        _sources = sources;
    }

    public long SpoofedSent => Interlocked.Read(ref _spoofedSent);
    public long RealSent => Interlocked.Read(ref _realSent);

    /// <summary>Requests sent with the claimed address as their source.</summary>
    public long ClaimedSent => Interlocked.Read(ref _claimedSent);
    public long CookiesAnswered => Interlocked.Read(ref _cookiesAnswered);

    /// <summary>IKE_SA_INIT responses with a responder SPI (a half-open SA made for us) seen by the real-address stream.</summary>
    public long Admitted => Interlocked.Read(ref _admitted);

    /// <summary>
    /// Makes the sockets inside <paramref name="netns"/>: the raw one, and a UDP one bound to
    /// <paramref name="realAddress"/>:500 (the address the flooder namespace really has).
    /// </summary>
    public static IkeFlooder Create(string netns, IPAddress realAddress, IPEndPoint target, IPAddress sourceBase, int sources)
    {
        (Socket Raw, Socket Real)? made = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle($"/var/run/netns/{netns}");
                if (setns(ns.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns({netns}) failed: errno {Marshal.GetLastPInvokeError()}");
                // IPPROTO_RAW: send-only, header included, never handed a copy of incoming packets.
                var raw = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw);
                raw.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.HeaderIncluded, true);
                var real = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                real.Bind(new IPEndPoint(realAddress, 500));
                made = (raw, real);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        }) { IsBackground = true, Name = "flooder-setns" };
        thread.Start();
        thread.Join();
        if (made is not { } s) throw new InvalidOperationException("flooder sockets not made", failure);
        return new IkeFlooder(s.Raw, s.Real, target, sourceBase, sources);
    }

    /// <summary>Floods for <paramref name="duration"/>: <paramref name="claimedPerSecond"/> spoofed from <paramref name="claimed"/>
    /// from the start, and after <paramref name="claimedLead"/> also <paramref name="spoofedPerSecond"/> spoofed from the /16 and
    /// <paramref name="realPerSecond"/> from the real address.</summary>
    public void Start(int spoofedPerSecond, int realPerSecond, TimeSpan duration, IPAddress? claimed = null, int claimedPerSecond = 0,
        TimeSpan claimedLead = default)
    {
        _stop.CancelAfter(duration);
        uint claimedSource = claimed is null ? 0 : BinaryPrimitives.ReadUInt32BigEndian(claimed.GetAddressBytes());
        _sender = Task.Factory.StartNew(() => SendLoop(spoofedPerSecond, realPerSecond, claimedSource, claimed is null ? 0 : claimedPerSecond,
            claimedLead.TotalSeconds), TaskCreationOptions.LongRunning);
        _receiver = Task.Factory.StartNew(ReceiveLoop, TaskCreationOptions.LongRunning);
    }

    public Task Completion => Task.WhenAll(_sender, _receiver);

    private void SendLoop(int spoofedPerSecond, int realPerSecond, uint claimedSource, int claimedPerSecond, double lead)
    {
        var packet = new byte[IpHeaderLength + UdpHeaderLength + _requests.Length];
        var payload = new byte[_requests.Length];
        var rawTarget = new IPEndPoint(_target.Address, 0);
        var clock = Stopwatch.StartNew();
        ulong spi = (ulong)Random.Shared.NextInt64() & 0x7fff_ffff_0000_0000;
        long spoofed = 0, real = 0, claimed = 0;
        int source = 0;
        while (!_stop.IsCancellationRequested)
        {
            double elapsed = clock.Elapsed.TotalSeconds;
            double broad = Math.Max(0, elapsed - lead);
            // Paced by what is due so far, so a late wake-up catches up instead of lowering the rate.
            for (; spoofed < spoofedPerSecond * broad; spoofed++)
            {
                uint src = _sourceBase + 1 + (uint)(source++ % _sources);
                _requests.Write(packet.AsSpan(IpHeaderLength + UdpHeaderLength), ++spi);
                WriteHeaders(packet, src, _target);
                try { _raw.SendTo(packet, rawTarget); } catch (SocketException) { break; }
                Interlocked.Increment(ref _spoofedSent);
            }
            for (; claimed < claimedPerSecond * elapsed; claimed++)
            {
                _requests.Write(packet.AsSpan(IpHeaderLength + UdpHeaderLength), ++spi);
                WriteHeaders(packet, claimedSource, _target);
                try { _raw.SendTo(packet, rawTarget); } catch (SocketException) { break; }
                Interlocked.Increment(ref _claimedSent);
            }
            for (; real < realPerSecond * broad; real++)
            {
                _requests.Write(payload, ++spi);
                try { _real.SendTo(payload, _target); } catch (SocketException) { break; }
                Interlocked.Increment(ref _realSent);
            }
            Thread.Sleep(2);
        }
    }

    /// <summary>The real-address stream's replies: a COOKIE is returned at once (RFC 7296 §2.6), like a real initiator would.</summary>
    private void ReceiveLoop()
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        _real.ReceiveTimeout = 200;
        while (!_stop.IsCancellationRequested)
        {
            int n;
            try { n = _real.ReceiveFrom(buffer, ref from); }
            catch (SocketException) { continue; }
            var reply = buffer.AsSpan(0, n);
            if (n < ProtocolConstants.IkeHeaderLength || reply[18] != (byte)ExchangeType.IkeSaInit) continue;
            if (BinaryPrimitives.ReadUInt64BigEndian(reply[8..]) != 0)
            {
                Interlocked.Increment(ref _admitted);
                continue;
            }
            if (CookieOf(reply) is not { } cookie) continue;
            ulong spi = BinaryPrimitives.ReadUInt64BigEndian(reply);
            try { _real.SendTo(WithCookie(spi, cookie), _target); } catch (SocketException) { continue; }
            Interlocked.Increment(ref _cookiesAnswered);
        }
    }

    private static byte[]? CookieOf(ReadOnlySpan<byte> reply)
    {
        // The stateless reply carries N(COOKIE) alone: notify header at 28, type at 34, data from 36.
        if (reply[16] != (byte)PayloadType.Notify || reply.Length < 36) return null;
        int length = BinaryPrimitives.ReadUInt16BigEndian(reply[30..]);
        if (BinaryPrimitives.ReadUInt16BigEndian(reply[34..]) != (ushort)NotifyType.Cookie || length < 8 || 28 + length > reply.Length) return null;
        return reply.Slice(36, length - 8).ToArray();
    }

    /// <summary>The request again with N(COOKIE) as its first payload (RFC 7296 §2.6), same SPI and nonce.</summary>
    private byte[] WithCookie(ulong spi, byte[] cookie)
    {
        var request = _requests.Next(spi);
        int notifyLength = 8 + cookie.Length;
        var message = new byte[request.Length + notifyLength];
        request.AsSpan(0, ProtocolConstants.IkeHeaderLength).CopyTo(message);
        message[16] = (byte)PayloadType.Notify;
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(24), (uint)message.Length);
        var notify = message.AsSpan(ProtocolConstants.IkeHeaderLength);
        notify[0] = request[16];
        BinaryPrimitives.WriteUInt16BigEndian(notify[2..], (ushort)notifyLength);
        BinaryPrimitives.WriteUInt16BigEndian(notify[6..], (ushort)NotifyType.Cookie);
        cookie.CopyTo(notify[8..]);
        request.AsSpan(ProtocolConstants.IkeHeaderLength).CopyTo(message.AsSpan(ProtocolConstants.IkeHeaderLength + notifyLength));
        return message;
    }

    private static void WriteHeaders(Span<byte> packet, uint source, IPEndPoint target)
    {
        int total = packet.Length;
        packet[0] = 0x45;
        packet[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)total);
        BinaryPrimitives.WriteUInt32BigEndian(packet[4..], 0);  // ID filled in by the kernel, no fragments
        packet[8] = 64;
        packet[9] = (byte)ProtocolType.Udp;
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], 0); // header checksum filled in by the kernel (IP_HDRINCL)
        BinaryPrimitives.WriteUInt32BigEndian(packet[12..], source);
        target.Address.TryWriteBytes(packet[16..], out _);
        var udp = packet[IpHeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 500);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)target.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(total - IpHeaderLength));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);     // no UDP checksum (allowed over IPv4)
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try { await Completion.ConfigureAwait(false); } catch (Exception) { /* the sockets close below either way */ }
        _raw.Dispose();
        _real.Dispose();
        _stop.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
}

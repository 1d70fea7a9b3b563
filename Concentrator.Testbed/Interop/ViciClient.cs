using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Concentrator.Testbed.Interop;

/// <summary>
/// A minimal client of charon's vici protocol (strongSwan's src/libcharon/plugins/vici/README.md) over its unix socket:
/// named requests with flat key/value messages, and event subscriptions. Pathname unix sockets belong to the file
/// system, not to a network namespace, so the socket of a charon in any namespace is reachable from here. Used where
/// swanctl would cost a process per command (the handshake benchmark initiates hundreds of SAs per second).
/// </summary>
public sealed class ViciClient : IAsyncDisposable
{
    private const byte CmdRequest = 0, CmdResponse = 1, CmdUnknown = 2, EventRegister = 3, EventConfirm = 5, EventUnknown = 6, Event = 7;
    private const byte SectionStart = 1, SectionEnd = 2, KeyValue = 3, ListStart = 4, ListItem = 5, ListEnd = 6;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private ViciClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
    }

    public static async Task<ViciClient> ConnectAsync(string socketPath, CancellationToken ct = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ViciClient(socket);
    }

    /// <summary>
    /// One command; the response flattened to dotted keys (section "ikesas", key "total" → "ikesas.total"; list items
    /// joined by spaces). A connection carries one request at a time and no subscribed events.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> RequestAsync(string command, IReadOnlyDictionary<string, string>? message = null,
        CancellationToken ct = default)
    {
        await WritePacketAsync(CmdRequest, command, message, ct).ConfigureAwait(false);
        var (type, _, body) = await ReadPacketAsync(ct).ConfigureAwait(false);
        if (type == CmdUnknown) throw new InvalidOperationException($"vici: charon does not know the command '{command}'");
        if (type != CmdResponse) throw new InvalidOperationException($"vici: unexpected packet type {type} answering '{command}'");
        return Flatten(body);
    }

    /// <summary>Subscribes this connection to <paramref name="eventName"/>; afterwards it only reads events (<see cref="ReadEventAsync"/>).</summary>
    public async Task RegisterAsync(string eventName, CancellationToken ct = default)
    {
        await WritePacketAsync(EventRegister, eventName, null, ct).ConfigureAwait(false);
        var (type, _, _) = await ReadPacketAsync(ct).ConfigureAwait(false);
        if (type == EventUnknown) throw new InvalidOperationException($"vici: charon does not know the event '{eventName}'");
        if (type != EventConfirm) throw new InvalidOperationException($"vici: unexpected packet type {type} registering '{eventName}'");
    }

    /// <summary>
    /// The next event: its name, the names of its top-level sections (for ike-updown and child-updown, the IKE SA's
    /// connection name) and its flattened keys.
    /// </summary>
    public async Task<(string Name, IReadOnlyList<string> Sections, IReadOnlyDictionary<string, string> Values)> ReadEventAsync(CancellationToken ct = default)
    {
        while (true)
        {
            var (type, name, body) = await ReadPacketAsync(ct).ConfigureAwait(false);
            if (type != Event) continue;
            var sections = new List<string>();
            var values = Flatten(body, sections);
            return (name, sections, values);
        }
    }

    private async Task WritePacketAsync(byte type, string name, IReadOnlyDictionary<string, string>? message, CancellationToken ct)
    {
        var body = new MemoryStream();
        body.WriteByte(type);
        WriteName(body, name);
        foreach (var (k, v) in message ?? new Dictionary<string, string>())
        {
            body.WriteByte(KeyValue);
            WriteName(body, k);
            byte[] value = Encoding.UTF8.GetBytes(v);
            Span<byte> len = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(len, checked((ushort)value.Length));
            body.Write(len);
            body.Write(value);
        }
        byte[] packet = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(packet, (uint)body.Length);
        body.GetBuffer().AsSpan(0, (int)body.Length).CopyTo(packet.AsSpan(4));
        await _stream.WriteAsync(packet, ct).ConfigureAwait(false);
    }

    private static void WriteName(Stream s, string name)
    {
        byte[] b = Encoding.UTF8.GetBytes(name);
        s.WriteByte(checked((byte)b.Length));
        s.Write(b);
    }

    private async Task<(byte Type, string Name, byte[] Body)> ReadPacketAsync(CancellationToken ct)
    {
        byte[] header = new byte[4];
        await _stream.ReadExactlyAsync(header, ct).ConfigureAwait(false);
        int length = checked((int)BinaryPrimitives.ReadUInt32BigEndian(header));
        if (length is < 1 or > 16 * 1024 * 1024) throw new InvalidOperationException($"vici: implausible packet length {length}");
        byte[] packet = new byte[length];
        await _stream.ReadExactlyAsync(packet, ct).ConfigureAwait(false);
        byte type = packet[0];
        int at = 1;
        string name = "";
        if (type is CmdRequest or EventRegister or 4 or Event)
        {
            int n = packet[at++];
            name = Encoding.UTF8.GetString(packet, at, n);
            at += n;
        }
        return (type, name, packet[at..]);
    }

    /// <summary>A message's elements as dotted keys; <paramref name="topSections"/> collects the names of top-level sections.</summary>
    private static Dictionary<string, string> Flatten(byte[] m, List<string>? topSections = null)
    {
        var result = new Dictionary<string, string>();
        var path = new List<string>();
        string? list = null;
        var items = new List<string>();
        int at = 0;
        string Name()
        {
            int n = m[at++];
            string s = Encoding.UTF8.GetString(m, at, n);
            at += n;
            return s;
        }
        string Value()
        {
            int n = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(at));
            at += 2;
            string s = Encoding.UTF8.GetString(m, at, n);
            at += n;
            return s;
        }
        string Key(string k) => path.Count == 0 ? k : string.Join('.', path) + "." + k;
        while (at < m.Length)
        {
            switch (m[at++])
            {
                case SectionStart:
                    string section = Name();
                    if (path.Count == 0) topSections?.Add(section);
                    path.Add(section);
                    break;
                case SectionEnd:
                    path.RemoveAt(path.Count - 1);
                    break;
                case KeyValue:
                    string key = Name();
                    result[Key(key)] = Value();
                    break;
                case ListStart:
                    list = Name();
                    items.Clear();
                    break;
                case ListItem:
                    items.Add(Value());
                    break;
                case ListEnd:
                    result[Key(list!)] = string.Join(' ', items);
                    break;
                default:
                    throw new InvalidOperationException($"vici: unknown message element {m[at - 1]} at {at - 1}");
            }
        }
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}

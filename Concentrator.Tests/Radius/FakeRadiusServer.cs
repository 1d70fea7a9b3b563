using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Concentrator.Radius;

namespace Concentrator.Tests.Radius;

/// <summary>
/// A RADIUS server on loopback for client tests: each received request is recorded and handed to the handler, whose
/// datagrams (zero or more, possibly hostile) are sent back to the request's source.
/// </summary>
internal sealed class FakeRadiusServer : IDisposable
{
    private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<byte[], int, IEnumerable<byte[]>> _handler;

    /// <param name="handler">(request, index of the request from 0) → datagrams to send back.</param>
    public FakeRadiusServer(byte[] secret, Func<byte[], int, IEnumerable<byte[]>> handler)
    {
        Secret = secret;
        _handler = handler;
        _ = Task.Run(Loop);
    }

    public byte[] Secret { get; }
    public int Port => ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;
    public ConcurrentQueue<byte[]> Received { get; } = new();

    public RadiusServerOptions Options(string name, int tries = 3, double timeout = 0.2, double backoff = 1.0) => new()
    {
        Name = name, Address = IPAddress.Loopback, AuthPort = Port, AcctPort = Port, Secret = Secret,
        RetransmitTries = tries, RetransmitTimeout = TimeSpan.FromSeconds(timeout), RetransmitBase = backoff,
    };

    private async Task Loop()
    {
        int index = 0;
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult r;
            try { r = await _udp.ReceiveAsync(_stop.Token); }
            catch (Exception) { return; }
            Received.Enqueue(r.Buffer);
            foreach (var reply in _handler(r.Buffer, index++))
            {
                try { await _udp.SendAsync(reply, r.RemoteEndPoint); }
                catch (Exception) { return; }
            }
        }
    }

    /// <summary>A response to <paramref name="request"/> signed as a server signs it: Message-Authenticator (when
    /// <paramref name="withMac"/>) then the Response Authenticator.</summary>
    public static byte[] Respond(byte[] request, byte[] secret, RadiusCode code, Action<RadiusWriterBox>? attributes = null, bool withMac = true,
        byte? identifier = null)
    {
        var requestAuth = request.AsSpan(4, 16).ToArray();
        var box = new RadiusWriterBox();
        attributes?.Invoke(box);
        var buffer = new byte[RadiusPacket.MaxLength];
        var writer = new RadiusWriter(buffer, code, identifier ?? request[1], requestAuth);
        int mac = -1;
        if (withMac)
        {
            mac = writer.Length + 2;
            writer.TryAdd(RadiusAttributeType.MessageAuthenticator, new byte[16]);
        }
        foreach (var (t, v) in box.Attributes) Assert.True(writer.TryAdd(t, v));
        if (box.Eap is { } eap) Assert.True(RadiusAttribute.TryAddEapMessage(ref writer, eap));
        var packet = buffer.AsSpan(0, writer.Finish()).ToArray();
        if (mac >= 0) RadiusAuthenticator.SignMessageAuthenticator(packet, mac, [], secret);
        RadiusAuthenticator.SignResponse(packet, requestAuth, secret);
        return packet;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
    }
}

internal sealed class RadiusWriterBox
{
    public List<(RadiusAttributeType, byte[])> Attributes { get; } = [];
    public byte[]? Eap { get; set; }
    public RadiusWriterBox Add(RadiusAttributeType t, byte[] v) { Attributes.Add((t, v)); return this; }
}

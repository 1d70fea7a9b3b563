using System.Net;
using Concentrator.DataPlane.Linux;

namespace Concentrator.Tests.DataPlane.Linux;

/// <summary>UDP GSO sends (UdpGsoSender): how a batch is grouped, and on loopback (no root) that the receiver
/// gets exactly the datagrams of the batch, each whole and in order.</summary>
public sealed class UdpGsoSenderTests
{
    private const uint Loopback = 0x7F000001;

    [Fact]
    public void Runs_of_one_length_to_one_peer_become_one_message_a_shorter_datagram_ending_it()
    {
        using var batch = new PacketBatch(64, 2048, 0);
        // 0-2: 1000 to A; 3: 600 to A (ends the run); 4-5: 1000 to A; 6: 1000 to B; 7: 1200 to B (longer: new message);
        // 8-9: 1200 to B on another port; 10: IPv6 peer.
        Put(batch, 0, 1000, 1, 4500); Put(batch, 1, 1000, 1, 4500); Put(batch, 2, 1000, 1, 4500); Put(batch, 3, 600, 1, 4500);
        Put(batch, 4, 1000, 1, 4500); Put(batch, 5, 1000, 1, 4500); Put(batch, 6, 1000, 2, 4500); Put(batch, 7, 1200, 2, 4500);
        Put(batch, 8, 1200, 2, 4501); Put(batch, 9, 1200, 2, 4501);
        batch.Set6(10, new byte[1200], 1, 4501);
        using var sender = new UdpGsoSender();

        Assert.Equal(6, sender.Plan(batch, 11));
        Assert.Equal([(0, 4), (4, 2), (6, 1), (7, 1), (8, 2), (10, 1)],
            Enumerable.Range(0, sender.Messages).Select(m => (sender.First(m), sender.Count(m))).ToArray());
    }

    [Fact]
    public void A_message_holds_at_most_64_datagrams_and_65507_bytes()
    {
        using var batch = new PacketBatch(128, 2048, 0);
        for (int i = 0; i < 100; i++) Put(batch, i, 100, 1, 4500);
        using var sender = new UdpGsoSender(128);
        Assert.Equal(2, sender.Plan(batch, 100));
        Assert.Equal(64, sender.Count(0));
        Assert.Equal(36, sender.Count(1));

        for (int i = 0; i < 100; i++) Put(batch, i, 1500, 1, 4500);
        Assert.Equal(3, sender.Plan(batch, 100));
        Assert.Equal(UdpGsoSender.MaxPayload / 1500, sender.Count(0)); // 43 datagrams of 1500 bytes
        Assert.True(sender.Count(0) * 1500 <= UdpGsoSender.MaxPayload);
    }

    [Fact]
    public void Loopback_receiver_gets_every_datagram_whole_and_in_order()
    {
        using var receiver = new UdpBatchSocket(IPAddress.Loopback, 0, reusePort: false);
        using var socket = new UdpBatchSocket(IPAddress.Loopback, 0, reusePort: false);
        Assert.True(UdpGsoSender.Supported(socket.Handle), "UDP_SEGMENT is not supported by this kernel (4.18+)");
        using var batch = new PacketBatch(64, 2048, 0);
        int[] lengths = [.. Enumerable.Repeat(1400, 30), 900, .. Enumerable.Repeat(1400, 5), 77, 1400, 1400];
        for (int i = 0; i < lengths.Length; i++)
        {
            var data = new byte[lengths[i]];
            for (int j = 0; j < data.Length; j++) data[j] = (byte)(i * 31 + j);
            data[0] = (byte)i;
            batch.Set(i, data, Loopback, (ushort)receiver.LocalPort);
        }
        using var sender = new UdpGsoSender();

        Assert.Equal(lengths.Length, sender.Send(socket.Handle, batch, lengths.Length, 20));
        Assert.Equal(3, sender.GsoMessages); // 30 x 1400 + 900, 5 x 1400 + 77, 2 x 1400
        Assert.Equal(lengths.Length, sender.GsoSegments);
        Assert.Equal(0, sender.Fallbacks);

        using var rx = new PacketBatch(64, 2048, 0);
        var received = new List<byte[]>();
        for (int attempt = 0; attempt < 20 && received.Count < lengths.Length; attempt++)
        {
            int n = receiver.ReceiveBatch(rx, 200);
            for (int i = 0; i < n; i++) received.Add(rx.Packet(i).ToArray());
        }
        Assert.Equal(lengths.Length, received.Count);
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.Equal(lengths[i], received[i].Length);
            Assert.True(received[i].AsSpan().SequenceEqual(batch.Packet(i)), $"datagram {i} differs");
        }
    }

    private static void Put(PacketBatch batch, int index, int length, uint address, ushort port)
    {
        batch.Set(index, new byte[length], address, port);
    }
}

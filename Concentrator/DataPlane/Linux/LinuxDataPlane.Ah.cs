// ah-raw-in: AH (RFC 4302) from the raw IP protocol 51 socket, verified onto the TUN device. Stages and ownership are in
// Receive.cs's header; the outbound half is Send.cs's S3/S4 for an AH SA.
using Concentrator.DataPlane.Esp;
using Concentrator.Ipsec;
using Concentrator.Telemetry;

namespace Concentrator.DataPlane.Linux;

public sealed partial class LinuxDataPlane
{
    private readonly RawAhSocket? _rawAh; // with plain ESP (AH is never UDP-encapsulated); IPv4 only

    private void LogAhSa(EspSa sa)
    {
        Log.AhSaInstalled(_log, sa.InboundSpi, sa.OutboundSpi, sa.Suite.Integrity.ToString(), sa.Esn ? ", ESN" : "",
            sa.Mode == IpsecMode.Transport ? "transport" : "tunnel", sa.Connection, sa.Child);
        if (sa.TryGetRemoteV6(out _)) Log.AhIpv6PeerUnsupported(_log, sa.InboundSpi, sa.Connection, sa.Child);
    }

    private void AhInboundLoop()
    {
        using var batch = new PacketBatch(PacketBatch.DefaultCapacity, PacketBatch.DefaultBufferSize, 0);
        using var tunOut = new TcpCoalescer(batch.Capacity, _gro);
        var sink = new TunQueueSink(_tun, 0);
        var counters = new WorkerBatchCounters();
        while (!_stopping)
        {
            int n = _rawAh!.ReceiveBatch(batch, 100);
            if (n <= 0) continue;
            ProcessAhBatch(batch, n, tunOut, ref sink, ref counters);
            EndBatch(_workers, 2 * _workers + 1, ref counters);
        }
    }

    /// <summary>R3-R4 for one AH batch: each slot holds a whole IPv4 packet, verified where it lies (the slot's bytes after
    /// it give the ESN room; a packet filling its slot to the end with ESN counts as oversize).</summary>
    private void ProcessAhBatch(PacketBatch batch, int n, TcpCoalescer tunOut, ref TunQueueSink sink, ref WorkerBatchCounters counters)
    {
        counters.Drops[(int)EspStatus.Oversize] += (ulong)batch.Truncated;
        for (int i = 0; i < n; i++)
        {
            int length = batch.Lengths[i];
            if (length == 0)
            {
                counters.CountDrop(EspStatus.Truncated);
                continue;
            }
            var buffer = batch.Slot(i)[batch.Offsets[i]..];
            var status = AhPipeline.Open(_sas, buffer, length, checkPolicy: true, out var inner, out uint interfaceIn);
            Count(ref counters, status, length);
            if (status != EspStatus.Ok) continue;
            if (interfaceIn == 0) tunOut.Add(buffer[inner]);
            else WriteToInterface(interfaceIn, buffer[inner], ref counters);
        }

        WriteTun(tunOut, ref sink, ref counters);
    }

    /// <summary>S3 for an AH SA: the whole outer IPv4 packet into the next slot of the AH batch (an IPv6 peer: no way out).</summary>
    private static void ProtectNext(EspSa sa, ReadOnlySpan<byte> inner, OutboundBatches output, ref WorkerBatchCounters counters)
    {
        if (sa.TryGetRemoteV6(out _))
        {
            counters.CountDrop(EspStatus.NoSa);
            return;
        }
        var status = SealInto(sa, inner, output.Ah, output.A);
        if (status != EspStatus.Ok)
        {
            counters.CountDrop(status);
            return;
        }
        counters.PacketsOut++;
        counters.BytesOut += (ulong)output.Ah.Lengths[output.A];
        output.A++;
    }
}

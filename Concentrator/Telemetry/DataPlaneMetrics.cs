using System.Diagnostics;
using System.Runtime.CompilerServices;
using Concentrator.Ipsec;
using Prometheus;

namespace Concentrator.Telemetry;

/// <summary>Why the data plane dropped an ESP packet: the <c>reason</c> label of <c>concentrator_esp_dropped_packets_total</c>.</summary>
public enum EspDropReason
{
    Replay = 0,
    AuthFailed,
    NoSa,
    TsMismatch,
    Malformed,
    QueueFull,
    SeqExhausted,
    Dummy,
    NoBuffer,
    SeqCeiling,
    /// <summary>AH (RFC 4302): ICV failed.</summary>
    AhIcv,
    /// <summary>AH: replayed or left of the window.</summary>
    AhReplay,
    Count,
}

/// <summary>Drops by <see cref="EspStatus"/> value, inline (no allocation, plain fields).</summary>
[InlineArray(24)]
public struct EspStatusCounts
{
    private ulong _element0;
}

/// <summary>
/// What one receive/send worker accumulated since its last publish: plain fields, owned by that
/// worker alone, published with <see cref="DataPlaneMetrics.Publish"/> once per batch and then cleared.
/// </summary>
public struct WorkerBatchCounters
{
    public ulong PacketsIn;
    public ulong BytesIn;
    public ulong PacketsOut;
    public ulong BytesOut;

    /// <summary>Dropped packets by <see cref="EspStatus"/> (index = status value; Ok is ignored).</summary>
    public EspStatusCounts Drops;

    /// <summary>Decrypted packets whose inner addresses fall outside the SA's traffic selectors.</summary>
    public ulong TsMismatch;

    /// <summary>Packets dropped because a worker or TUN queue was full.</summary>
    public ulong QueueFull;

    /// <summary>GSO super-packets written to the TUN (tunnel.gro) and the decrypted segments they carried.</summary>
    public ulong TunGsoFrames;
    public ulong TunGsoSegments;

    /// <summary>TSO super-packets read from the TUN (tunnel.tso) and the segments they were split into.</summary>
    public ulong TunTsoFrames;
    public ulong TunTsoSegments;

    /// <summary>UDP GSO messages sent (tunnel.udp_gso, more than one datagram each) and the ESP datagrams they carried.</summary>
    public ulong UdpGsoMessages;
    public ulong UdpGsoSegments;
    /// <summary>UDP GRO (tunnel.udp_gro): coalesced datagrams read, the segments they were split into, datagrams whose
    /// kernel-given segment size was unusable (read as one datagram), and segments dropped because another worker owns
    /// their SPI.</summary>
    public ulong UdpGroDatagrams;
    public ulong UdpGroSegments;
    public ulong UdpGroBadSize;
    public ulong UdpGroForeign;

    /// <summary>Stopwatch ticks of one sampled decrypt (0 = no sample in this batch).</summary>
    public long DecryptSampleTicks;

    /// <summary>Stopwatch ticks of one sampled encrypt (0 = no sample in this batch).</summary>
    public long EncryptSampleTicks;

    public void CountDrop(EspStatus status) => Drops[(int)status]++;

    public void Clear() => this = default;
}

/// <summary>
/// ESP families, per worker (label <c>worker</c>) so SPI sharding across cores is visible. The
/// packet path never touches a metric per packet: each worker calls <see cref="Publish"/> once per
/// batch with its plain-field <see cref="WorkerBatchCounters"/>; the series of a worker are resolved
/// once, so a publish is a handful of lock-free adds. Planes that cannot batch themselves register a
/// flush with <see cref="AddFlush"/>, run before every scrape.
/// </summary>
public sealed class DataPlaneMetrics
{
    public const int MaxWorkers = 256;

    private static readonly EspDropReason?[] ReasonOfStatus = BuildReasonOfStatus();

    private readonly Counter _packets;
    private readonly Counter _bytes;
    private readonly Counter _dropped;
    private readonly Counter _tunGsoFrames;
    private readonly Counter _tunGsoSegments;
    private readonly Counter _tunTsoFrames, _tunTsoSegments, _udpGsoMessages, _udpGsoSegments;
    private readonly Counter _routeFailures;
    private readonly Counter.Child _udpGroDatagrams, _udpGroSegments, _udpGroBadSize, _udpGroForeign;
    private readonly Histogram.Child _decrypt;
    private readonly Histogram.Child _encrypt;
    private readonly WorkerSeries?[] _workers = new WorkerSeries?[MaxWorkers];
    private readonly List<Action> _flushes = new();

    /// <summary>The node's resource-bound reporter (charon.acquire_queue is hit on the data plane's trap path).</summary>
    public LimitReporter? Limits { get; internal set; }

    internal DataPlaneMetrics(MetricFactory f, CollectorRegistry registry)
    {
        _packets = f.CreateCounter("concentrator_esp_packets_total",
            "ESP packets processed successfully, by direction (in: decrypted, out: encrypted) and worker.", "direction", "worker");
        _bytes = f.CreateCounter("concentrator_esp_bytes_total", "ESP bytes on the wire of processed packets, by direction and worker.",
            "direction", "worker");
        _dropped = f.CreateCounter("concentrator_esp_dropped_packets_total", "ESP packets dropped, by reason and worker.", "reason", "worker");
        _tunGsoFrames = f.CreateCounter("concentrator_tun_gso_frames_total",
            "GSO super-packets written to the TUN device (decrypted TCP segments of one flow coalesced, tunnel.gro), by worker.", "worker");
        _tunGsoSegments = f.CreateCounter("concentrator_tun_gso_segments_total",
            "Decrypted TCP segments written inside GSO super-packets, by worker (divided by frames: segments per write).", "worker");
        _tunTsoFrames = f.CreateCounter("concentrator_tun_tso_frames_total",
            "TCP super-packets read from the TUN device (tunnel.tso), by worker.", "worker");
        _tunTsoSegments = f.CreateCounter("concentrator_tun_tso_segments_total",
            "Segments the TUN's TCP super-packets were split into before sealing, by worker.", "worker");
        _udpGsoMessages = f.CreateCounter("concentrator_udp_gso_messages_total",
            "UDP GSO sends of more than one ESP-in-UDP datagram (tunnel.udp_gso), by worker.", "worker");
        _udpGsoSegments = f.CreateCounter("concentrator_udp_gso_segments_total",
            "ESP-in-UDP datagrams sent inside UDP GSO sends, by worker (divided by messages: datagrams per send).", "worker");
        _routeFailures = f.CreateCounter("concentrator_route_failures_total",
            "Tunnel routes, exclusions of peer addresses and routing rules the data plane could not install or remove, and routes " +
            "it refused because they were a peer's own address; by operation (add, remove, rule, peer_address).", "operation");
        var udpGro = f.CreateCounter("concentrator_udp_gro_total",
            "UDP GRO on the ESP-in-UDP sockets (tunnel.udp_gro), by kind: datagrams (coalesced datagrams read), segments (what " +
            "they were split into), bad_segment_size (a kernel segment size of 0 or beyond the datagram: read as one datagram), " +
            "foreign_worker (a segment whose SPI another worker owns: dropped).", "kind");
        _udpGroDatagrams = udpGro.WithLabels("datagrams");
        _udpGroSegments = udpGro.WithLabels("segments");
        _udpGroBadSize = udpGro.WithLabels("bad_segment_size");
        _udpGroForeign = udpGro.WithLabels("foreign_worker");
        var crypto = f.CreateHistogram("concentrator_esp_crypto_duration_seconds",
            "Time to decrypt or encrypt one ESP packet (sampled, one packet per batch or 1 in 64).",
            new HistogramConfiguration
            {
                LabelNames = ["operation"],
                Buckets = Histogram.ExponentialBuckets(0.000_001, 2, 14), // 1 µs .. 8 ms
            });
        _decrypt = crypto.WithLabels("decrypt");
        _encrypt = crypto.WithLabels("encrypt");
        registry.AddBeforeCollectCallback(RunFlushes);
    }

    /// <summary>Publishes one worker's batch. Thread-safe; call once per batch per worker, then clear the batch.</summary>
    /// <summary>
    /// Creates the series of workers 0..<paramref name="count"/>-1 now (label children, a few kilobytes each), so that a
    /// packet thread's first <see cref="Publish"/> does not allocate them on the packet path.
    /// </summary>
    public void Prepare(int count)
    {
        for (int worker = 0; worker < count; worker++) Series(worker);
    }

    public void Publish(int worker, in WorkerBatchCounters delta)
    {
        var w = Series(worker);
        if (delta.PacketsIn != 0) w.PacketsIn.Inc(delta.PacketsIn);
        if (delta.BytesIn != 0) w.BytesIn.Inc(delta.BytesIn);
        if (delta.PacketsOut != 0) w.PacketsOut.Inc(delta.PacketsOut);
        if (delta.BytesOut != 0) w.BytesOut.Inc(delta.BytesOut);
        for (int s = 1; s < ReasonOfStatus.Length; s++)
        {
            ulong n = delta.Drops[s];
            if (n != 0 && ReasonOfStatus[s] is { } reason) w.Drops[(int)reason].Inc(n);
        }
        if (delta.TsMismatch != 0) w.Drops[(int)EspDropReason.TsMismatch].Inc(delta.TsMismatch);
        if (delta.QueueFull != 0) w.Drops[(int)EspDropReason.QueueFull].Inc(delta.QueueFull);
        if (delta.TunGsoFrames != 0) w.TunGsoFrames.Inc(delta.TunGsoFrames);
        if (delta.TunGsoSegments != 0) w.TunGsoSegments.Inc(delta.TunGsoSegments);
        if (delta.TunTsoFrames != 0) w.TunTsoFrames.Inc(delta.TunTsoFrames);
        if (delta.TunTsoSegments != 0) w.TunTsoSegments.Inc(delta.TunTsoSegments);
        if (delta.UdpGsoMessages != 0) w.UdpGsoMessages.Inc(delta.UdpGsoMessages);
        if (delta.UdpGsoSegments != 0) w.UdpGsoSegments.Inc(delta.UdpGsoSegments);
        if (delta.UdpGroDatagrams != 0) _udpGroDatagrams.Inc(delta.UdpGroDatagrams);
        if (delta.UdpGroSegments != 0) _udpGroSegments.Inc(delta.UdpGroSegments);
        if (delta.UdpGroBadSize != 0) _udpGroBadSize.Inc(delta.UdpGroBadSize);
        if (delta.UdpGroForeign != 0) _udpGroForeign.Inc(delta.UdpGroForeign);
        if (delta.DecryptSampleTicks > 0) _decrypt.Observe(TicksToSeconds(delta.DecryptSampleTicks));
        if (delta.EncryptSampleTicks > 0) _encrypt.Observe(TicksToSeconds(delta.EncryptSampleTicks));
    }

    /// <summary>Publishes the data plane's running count of route failures of one operation (before a scrape).</summary>
    public void SetRouteFailures(string operation, long total) => _routeFailures.WithLabels(operation).IncTo(total);

    /// <summary>Registers an action run before every scrape (for planes that accumulate between scrapes).</summary>
    public void AddFlush(Action flush)
    {
        lock (_flushes) _flushes.Add(flush);
    }

    public void RemoveFlush(Action flush)
    {
        lock (_flushes) _flushes.Remove(flush);
    }

    /// <summary>The drop reason an <see cref="EspStatus"/> counts as; null for success.</summary>
    public static EspDropReason? ReasonOf(EspStatus status) => ReasonOfStatus[(int)status];

    private void RunFlushes()
    {
        Action[] flushes;
        lock (_flushes) flushes = _flushes.ToArray();
        foreach (var flush in flushes) flush();
    }

    private static double TicksToSeconds(long ticks) => (double)ticks / Stopwatch.Frequency;

    private WorkerSeries Series(int worker)
    {
        if ((uint)worker >= MaxWorkers) throw new ArgumentOutOfRangeException(nameof(worker), $"worker must be 0..{MaxWorkers - 1}");
        var w = Volatile.Read(ref _workers[worker]);
        if (w is not null) return w;
        var created = new WorkerSeries(this, worker.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Interlocked.CompareExchange(ref _workers[worker], created, null) ?? created;
    }

    private static EspDropReason?[] BuildReasonOfStatus()
    {
        var map = new EspDropReason?[Enum.GetValues<EspStatus>().Length];
        if (map.Length > 24) throw new InvalidOperationException("EspStatusCounts holds 24 statuses");
        foreach (var s in Enum.GetValues<EspStatus>())
        {
            map[(int)s] = s switch
            {
                EspStatus.Ok => null,
                EspStatus.Replay => EspDropReason.Replay,
                EspStatus.AuthFailed => EspDropReason.AuthFailed,
                EspStatus.UnknownSpi or EspStatus.NoSa => EspDropReason.NoSa,
                EspStatus.TsMismatch => EspDropReason.TsMismatch,
                EspStatus.SequenceExhausted => EspDropReason.SeqExhausted,
                EspStatus.SequenceCeiling => EspDropReason.SeqCeiling,
                EspStatus.Dummy => EspDropReason.Dummy,
                EspStatus.BufferTooSmall => EspDropReason.NoBuffer,
                EspStatus.AhIcvFailed => EspDropReason.AhIcv,
                EspStatus.AhReplay => EspDropReason.AhReplay,
                _ => EspDropReason.Malformed,
            };
        }
        return map;
    }

    private sealed class WorkerSeries
    {
        public readonly Counter.Child PacketsIn, BytesIn, PacketsOut, BytesOut, TunGsoFrames, TunGsoSegments;
        public readonly Counter.Child TunTsoFrames, TunTsoSegments, UdpGsoMessages, UdpGsoSegments;
        public readonly Counter.Child[] Drops;

        public WorkerSeries(DataPlaneMetrics m, string worker)
        {
            PacketsIn = m._packets.WithLabels("in", worker);
            PacketsOut = m._packets.WithLabels("out", worker);
            BytesIn = m._bytes.WithLabels("in", worker);
            BytesOut = m._bytes.WithLabels("out", worker);
            TunGsoFrames = m._tunGsoFrames.WithLabels(worker);
            TunGsoSegments = m._tunGsoSegments.WithLabels(worker);
            TunTsoFrames = m._tunTsoFrames.WithLabels(worker);
            TunTsoSegments = m._tunTsoSegments.WithLabels(worker);
            UdpGsoMessages = m._udpGsoMessages.WithLabels(worker);
            UdpGsoSegments = m._udpGsoSegments.WithLabels(worker);
            Drops = Enumerable.Range(0, (int)EspDropReason.Count)
                .Select(r => m._dropped.WithLabels(LabelValues.Snake(((EspDropReason)r).ToString()), worker)).ToArray();
        }
    }
}

/// <summary>Implemented by data planes that publish ESP counters; the gateway attaches its metrics on start.</summary>
public interface IDataPlaneMetricsSource
{
    void AttachMetrics(DataPlaneMetrics metrics);
}

/// <summary>
/// A worker's counters for planes whose packet calls come from arbitrary threads (the in-memory plane):
/// Interlocked adds on this instance's own fields (no lock, no metric touched per packet), published
/// as one batch of worker <see cref="Worker"/> before each scrape or on <see cref="Flush"/>.
/// </summary>
public sealed class SharedWorkerCounters
{
    private const int SampleMask = 63;

    private readonly DataPlaneMetrics _metrics;
    // One slot per EspStatus value (SequenceCeiling, 18, overflowed the 16 it had).
    private readonly long[] _drops = new long[Enum.GetValues<EspStatus>().Length];
    private long _packetsIn, _bytesIn, _packetsOut, _bytesOut, _sampleSequence, _decryptSample, _encryptSample;

    public SharedWorkerCounters(DataPlaneMetrics metrics, int worker)
    {
        _metrics = metrics;
        Worker = worker;
        metrics.AddFlush(Flush);
    }

    public int Worker { get; }

    /// <summary>Stopwatch timestamp when this packet is sampled for crypto timing (1 in 64, first one included), else 0.</summary>
    public long SampleStart() => (Interlocked.Increment(ref _sampleSequence) & SampleMask) == 1 ? Stopwatch.GetTimestamp() : 0;

    public void Inbound(EspStatus status, int wireBytes, long sampleStart)
    {
        if (status == EspStatus.Ok)
        {
            Interlocked.Increment(ref _packetsIn);
            Interlocked.Add(ref _bytesIn, wireBytes);
            if (sampleStart != 0) Volatile.Write(ref _decryptSample, Math.Max(1, Stopwatch.GetTimestamp() - sampleStart));
        }
        else
        {
            Interlocked.Increment(ref _drops[(int)status]);
        }
    }

    public void Outbound(EspStatus status, int wireBytes, long sampleStart)
    {
        if (status == EspStatus.Ok)
        {
            Interlocked.Increment(ref _packetsOut);
            Interlocked.Add(ref _bytesOut, wireBytes);
            if (sampleStart != 0) Volatile.Write(ref _encryptSample, Math.Max(1, Stopwatch.GetTimestamp() - sampleStart));
        }
        else
        {
            Interlocked.Increment(ref _drops[(int)status]);
        }
    }

    /// <summary>Publishes what accumulated since the last flush; each event is published exactly once.</summary>
    public void Flush()
    {
        var batch = new WorkerBatchCounters
        {
            PacketsIn = (ulong)Interlocked.Exchange(ref _packetsIn, 0),
            BytesIn = (ulong)Interlocked.Exchange(ref _bytesIn, 0),
            PacketsOut = (ulong)Interlocked.Exchange(ref _packetsOut, 0),
            BytesOut = (ulong)Interlocked.Exchange(ref _bytesOut, 0),
            DecryptSampleTicks = Interlocked.Exchange(ref _decryptSample, 0),
            EncryptSampleTicks = Interlocked.Exchange(ref _encryptSample, 0),
        };
        for (int i = 0; i < _drops.Length; i++) batch.Drops[i] = (ulong)Interlocked.Exchange(ref _drops[i], 0);
        _metrics.Publish(Worker, in batch);
    }

    public void Detach() => _metrics.RemoveFlush(Flush);
}

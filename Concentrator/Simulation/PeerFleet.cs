using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Concentrator.Actors;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;

namespace Concentrator.Simulation;

/// <summary>
/// How the simulated remote-access peers look. Peer i uses id "{IdPrefix}i.fleet" and inner address 10.200.0.0 + i
/// (10.200.x.y for the first 65536 peers; later ones continue into 10.201.0.0 and up).
/// </summary>
public sealed record FleetOptions
{
    public string IkeProposal { get; init; } = "aes256gcm16-prfsha256-ecp256";
    public string EspProposal { get; init; } = "aes256gcm16";
    public string GatewayId { get; init; } = "gw.demo.concentrator";
    /// <summary>The PSK every peer and the responder share (auth psk); unused with <see cref="Certificates"/>.</summary>
    public byte[] Psk { get; init; } = [];

    /// <summary>When set, every peer logs in by EAP-MSCHAPv2 (local auth eap-mschapv2, its identity as the EAP identity)
    /// with this password; the responder still authenticates by the PSK or its certificate.</summary>
    public byte[]? EapPassword { get; init; }

    /// <summary>When set, the peers and the responder authenticate with certificates (auth pubkey both ways) instead of the PSK.</summary>
    public FleetCertificates? Certificates { get; init; }
    public string RemoteTs { get; init; } = "10.10.0.0/16";
    public IkeTunables Tunables { get; init; } = IkeTunables.Default;
    public IPAddress BindAddress { get; init; } = IPAddress.Loopback;
    public string IdPrefix { get; init; } = "peer-";

    /// <summary>Peer i is numbered FirstIndex + i (its id and inner address): a second fleet beside a first one whose
    /// peers stay up gets identities and addresses of its own.</summary>
    public int FirstIndex { get; init; }

    /// <summary>Each peer requests a virtual IP (swanctl vips = 0.0.0.0) and uses it as its inner address (its local_ts is
    /// dynamic); the responder's connection needs pools. Otherwise peer i's inner address is <see cref="InnerBase"/> + i.</summary>
    public bool VirtualIp { get; init; }

    /// <summary>First inner address; peer i gets this address + i as a /32.</summary>
    public const uint InnerBase = 0x0AC8_0000; // 10.200.0.0
}

/// <summary>Outcome of establishing a fleet: counts, failures by reason, setup latencies, and the virtual IP each peer got
/// (by peer index; only with <see cref="FleetOptions.VirtualIp"/>).</summary>
public sealed record FleetResult(int Requested, int Established, IReadOnlyDictionary<CloseReason, int> Failures,
    TimeSpan Elapsed, IReadOnlyList<double> SetupMilliseconds)
{
    public IReadOnlyDictionary<int, IPAddress> VirtualIps { get; init; } = new Dictionary<int, IPAddress>();

    public double HandshakesPerSecond => Elapsed.TotalSeconds > 0 ? Established / Elapsed.TotalSeconds : 0;

    /// <summary>Peers neither up nor failed when the timeout passed.</summary>
    public int Pending => Requested - Established - Failures.Values.Sum();

    public double MaxMilliseconds => SetupMilliseconds.Count == 0 ? double.NaN : SetupMilliseconds.Max();

    public double Percentile(double p)
    {
        if (SetupMilliseconds.Count == 0) return double.NaN;
        var sorted = SetupMilliseconds.Order().ToArray();
        int index = (int)Math.Ceiling(p / 100.0 * sorted.Length) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }
}

/// <summary>
/// Simulated remote peers: our own initiator, many IKE SAs from one node on one UDP socket pair,
/// each with its own identity and inner address. Used by <c>demo</c>, load tests and tests.
/// </summary>
public sealed class PeerFleet : IAsyncDisposable
{
    private readonly FleetOptions _options;
    private readonly IkeProposal _ike;
    private readonly EspProposal _esp;
    private readonly ConcurrentQueue<double> _latencies = new();
    private readonly ConcurrentDictionary<CloseReason, int> _failures = new();
    // The virtual IP each peer (by index) got in the current EstablishAsync.
    private readonly ConcurrentDictionary<int, IPAddress> _virtualIps = new();
    private int _established;
    private int _failed;

    private PeerFleet(FleetOptions options, Gateway node, InMemoryDataPlane dataPlane)
    {
        _options = options;
        Node = node;
        DataPlane = dataPlane;
        if (!ProposalParser.TryParseIke(options.IkeProposal, out var ike, out var e1)) throw new ArgumentException(e1);
        if (!ProposalParser.TryParseEsp(options.EspProposal, out var esp, out var e2)) throw new ArgumentException(e2);
        _ike = ike!;
        _esp = esp!;
        var observer = node.System.ActorOf(Props.Create(() => new Observer(this)), "fleet-observer");
        node.System.EventStream.Subscribe(observer, typeof(IkeSaUp));
        node.System.EventStream.Subscribe(observer, typeof(IkeSaDown));
    }

    public Gateway Node { get; }
    public InMemoryDataPlane DataPlane { get; }
    public int Established => Volatile.Read(ref _established);
    public int Failed => Volatile.Read(ref _failed);

    public static PeerFleet Start(FleetOptions options)
    {
        var dataPlane = new InMemoryDataPlane();
        var config = new ConcentratorConfig
        {
            Listen = new ListenConfig { Addresses = [options.BindAddress], IkePort = 0, NattPort = 0 },
            Source = "<fleet>",
        };
        var node = Gateway.Start(new GatewayOptions
        {
            Config = config,
            DataPlane = dataPlane,
            Resolver = new FixedPskResolver(options.Psk, options.EapPassword),
            Tunables = options.Tunables,
            SystemName = "fleet",
        });
        return new PeerFleet(options, node, dataPlane);
    }

    private string IdOf(int index) => $"{_options.IdPrefix}{_options.FirstIndex + index}.fleet";

    /// <summary>With certificates: issues those of peers [0, count) ahead, so that no measured round spends time signing them.</summary>
    public void PrepareCertificates(int count)
    {
        if (_options.Certificates is not { } certificates) return;
        for (int i = 0; i < count; i++) certificates.For(IdOf(i));
    }

    /// <summary>Connection of peer <paramref name="index"/>: its own identity and a /32 inner address.</summary>
    public ConnectionConfig PeerConnection(int index)
    {
        uint address = FleetOptions.InnerBase + (uint)(_options.FirstIndex + index);
        string inner = $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}/32";
        TrafficSelectorSpec.TryParse(_options.VirtualIp ? TrafficSelectorSpec.DynamicKeyword : inner, out var local, out _);
        TrafficSelectorSpec.TryParse(_options.RemoteTs, out var remote, out _);
        var child = new ChildConfig
        {
            Name = "lan",
            LocalTs = [local!],
            RemoteTs = [remote!],
            EspProposals = [_esp],
        };
        string id = IdOf(index);
        var certificates = _options.Certificates;
        return new ConnectionConfig
        {
            Name = $"peer-{index}",
            Proposals = [_ike],
            Local = _options.EapPassword is not null
                ? new AuthConfig { Auth = AuthConfig.EapMsChapV2, Id = id }
                : certificates is null
                    ? new AuthConfig { Auth = AuthConfig.Psk, Id = id }
                    : new AuthConfig { Auth = AuthConfig.PubKey, Id = id, Certificate = certificates.For(id) },
            Remote = certificates is null
                ? new AuthConfig { Auth = AuthConfig.Psk, Id = _options.GatewayId }
                : new AuthConfig { Auth = AuthConfig.PubKey, Id = _options.GatewayId, Trust = certificates.Trust },
            Children = new Dictionary<string, ChildConfig> { ["lan"] = child },
            Vips = _options.VirtualIp ? [IPAddress.Any] : [],
        };
    }

    /// <summary>
    /// Starts <paramref name="count"/> peers against <paramref name="target"/> (at most <paramref name="ratePerSecond"/>
    /// new ones per second, and at most <paramref name="maxPending"/> started but neither up nor failed, when given) and
    /// waits until every one is up or failed, or the timeout passes. <paramref name="progress"/> gets (up, failed, count)
    /// about every 50 ms.
    /// </summary>
    public async Task<FleetResult> EstablishAsync(IPEndPoint target, int count, TimeSpan timeout, int? ratePerSecond = null,
        Action<int, int, int>? progress = null, int? maxPending = null)
    {
        int baseEstablished = Established, baseFailed = Failed, baseLatencies = _latencies.Count;
        var baseFailures = new Dictionary<CloseReason, int>(_failures);
        _virtualIps.Clear();
        var clock = Stopwatch.StartNew();
        var lastProgress = TimeSpan.Zero;
        for (int i = 0; i < count && clock.Elapsed < timeout; i++)
        {
            if (ratePerSecond is { } rate && rate > 0)
            {
                var due = TimeSpan.FromSeconds((double)i / rate);
                if (due > clock.Elapsed) await Task.Delay(due - clock.Elapsed).ConfigureAwait(false);
            }
            // A window keeps the responder saturated without queueing more than it can answer before the
            // initiator's first retransmission (which would only add work).
            while (maxPending is { } window && i - (Established - baseEstablished) - (Failed - baseFailed) >= window
                   && clock.Elapsed < timeout)
            {
                await Task.Delay(1).ConfigureAwait(false);
            }
            if (progress is not null && clock.Elapsed - lastProgress > TimeSpan.FromMilliseconds(50))
            {
                lastProgress = clock.Elapsed;
                progress(Established - baseEstablished, Failed - baseFailed, count);
            }
            Node.Initiate(PeerConnection(i), target);
        }

        while (clock.Elapsed < timeout)
        {
            int up = Established - baseEstablished, down = Failed - baseFailed;
            progress?.Invoke(up, down, count);
            if (up + down >= count) break;
            await Task.Delay(50).ConfigureAwait(false);
        }

        var elapsed = clock.Elapsed;
        int established = Established - baseEstablished;
        progress?.Invoke(established, Failed - baseFailed, count);
        var failures = _failures.ToDictionary(f => f.Key, f => f.Value - baseFailures.GetValueOrDefault(f.Key));
        foreach (var zero in failures.Where(f => f.Value == 0).Select(f => f.Key).ToList()) failures.Remove(zero);
        return new FleetResult(count, established, failures, elapsed, _latencies.Skip(baseLatencies).ToArray())
        {
            VirtualIps = new Dictionary<int, IPAddress>(_virtualIps),
        };
    }

    /// <summary>Deletes every peer's IKE SA with the gateway (INFORMATIONAL Delete), bounded in time.</summary>
    public async Task<int> DeleteAllAsync(TimeSpan timeout)
    {
        Node.Supervisor.Tell(new DeleteAll());
        var deadline = Stopwatch.StartNew();
        int left;
        while ((left = await Node.CountSasAsync().ConfigureAwait(false)) > 0 && deadline.Elapsed < timeout)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }
        return left;
    }

    public ValueTask DisposeAsync() => Node.DisposeAsync();

    private sealed class Observer : ReceiveActor
    {
        public Observer(PeerFleet fleet)
        {
            Receive<IkeSaUp>(m =>
            {
                if (!m.Initiator) return;
                fleet._latencies.Enqueue(m.Summary.SetupTime.TotalMilliseconds);
                if (m.VirtualIps is [var vip, ..] && m.Connection.StartsWith("peer-", StringComparison.Ordinal) &&
                    int.TryParse(m.Connection.AsSpan("peer-".Length), out int index))
                {
                    fleet._virtualIps[index] = vip;
                }
                Interlocked.Increment(ref fleet._established);
            });
            Receive<IkeSaDown>(m =>
            {
                if (!m.Initiator || m.WasEstablished) return;
                fleet._failures.AddOrUpdate(m.Reason, 1, (_, n) => n + 1);
                Interlocked.Increment(ref fleet._failed);
            });
        }
    }

    /// <summary>Every peer shares one PSK (and one EAP password, when they log in by EAP); peers never answer IKE_SA_INIT.</summary>
    private sealed class FixedPskResolver(byte[] psk, byte[]? eapPassword) : IConnectionResolver
    {
        public IReadOnlyList<ConnectionConfig> FindCandidates(IPEndPoint local, IPEndPoint remote) => [];
        public byte[]? FindSharedKey(Identity local, Identity remote) => psk.ToArray();
        public byte[]? FindEapSecret(Identity local, Identity user) => eapPassword?.ToArray();
    }
}

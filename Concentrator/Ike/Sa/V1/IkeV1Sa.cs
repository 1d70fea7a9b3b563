using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa.V1;

/// <summary>
/// One IKEv1 phase 1 SA (after strongSwan's ike_sa in its IKEv1 role): cookies, endpoints, connection, identities,
/// the negotiated suite, SKEYID_d/a/e and the <see cref="V1MessageProtector"/>, and the host API an actor or a test
/// drives it with. Exchanges are handled by the <see cref="V1Exchanges"/> table, one handler per exchange type. No
/// I/O and no timers: every action is an <see cref="IkeEffect"/> the host drains in order, the same effects as
/// <see cref="IkeSa"/>'s. Not thread-safe; owned by one host.
/// </summary>
public sealed partial class IkeV1Sa : IDisposable
{
    private readonly List<IkeEffect> _effects = [];
    private readonly long _createdTimestamp = Stopwatch.GetTimestamp();
    private bool _disposed;

    private IkeV1Sa(IkeSaContext context, bool isInitiator, ulong cookieI, ulong cookieR, IPEndPoint local, IPEndPoint remote, bool natT)
    {
        Context = context;
        IsInitiator = isInitiator;
        CookieI = cookieI;
        CookieR = cookieR;
        LocalEndpoint = local;
        RemoteEndpoint = remote;
        NatT = natT;
    }

    /// <summary>A responder for a first main (or aggressive) mode message from <paramref name="remote"/>; our cookie is <paramref name="cookieR"/>.</summary>
    public static IkeV1Sa CreateResponder(IkeSaContext context, ulong cookieI, ulong cookieR, IPEndPoint local, IPEndPoint remote, bool natT) =>
        new(context, false, cookieI, cookieR, local, remote, natT);

    /// <summary>An initiator of <paramref name="connection"/> towards <paramref name="remote"/>; <see cref="Initiate"/> sends message 1.</summary>
    public static IkeV1Sa CreateInitiator(IkeSaContext context, ConnectionConfig connection, ulong cookieI, IPEndPoint local, IPEndPoint remote,
        IEnumerable<ChildConfig>? children = null) =>
        new(context, true, cookieI, 0, local, remote, remote.Port == context.NattPort)
        {
            Connection = connection,
            InitialChildren = (children ?? connection.Children.Values).ToList(),
        };

    public IkeSaContext Context { get; }
    public bool IsInitiator { get; }
    public ulong CookieI { get; }
    public ulong CookieR { get; internal set; }

    /// <summary>The cookie we chose: this SA's routing key in the supervisor.</summary>
    public ulong OurCookie => IsInitiator ? CookieI : CookieR;

    public V1Phase1State State { get; private set; } = V1Phase1State.Created;
    public ConnectionConfig? Connection { get; internal set; }
    public IPEndPoint LocalEndpoint { get; internal set; }
    public IPEndPoint RemoteEndpoint { get; internal set; }

    /// <summary>IKE (from message 5 on) and ESP use UDP 4500 with the non-ESP marker (RFC 3947 §4, RFC 3948).</summary>
    public bool NatT { get; internal set; }

    /// <summary>The NAT traversal both ends announced (RFC 3947 or a draft); None: no NAT-D and no floating.</summary>
    public NatTVersion NatTVersion { get; internal set; }

    /// <summary>Our own address is translated (the peer's first NAT-D did not match): we send NAT-T keepalives.</summary>
    public bool BehindNat { get; internal set; }

    /// <summary>The peer's address is translated, or it faked its NAT-D (strongSwan's encap = yes).</summary>
    public bool PeerBehindNat { get; internal set; }

    /// <summary>A NAT lies on the path either way: quick mode proposes the UDP-encapsulated modes.</summary>
    public bool NatDetected => BehindNat || PeerBehindNat;

    /// <summary>Vendor IDs of the peer that change what we do.</summary>
    public V1PeerFeatures PeerFeatures { get; internal set; }

    public Identity? LocalId { get; internal set; }
    public Identity? RemoteId { get; internal set; }
    public V1Suite Suite { get; internal set; }

    /// <summary>The HMAC of the negotiated hash (RFC 2409 §4); null before message 2.</summary>
    public Prf? Prf { get; internal set; }

    /// <summary>SKEYID_d (quick mode KEYMAT), SKEYID_a (HASH payloads), SKEYID_e (the cipher key's source); empty before the KE.</summary>
    public byte[] SkeyidD { get; private set; } = [];
    public byte[] SkeyidA { get; private set; } = [];
    public byte[] SkeyidE { get; private set; } = [];

    /// <summary>Encrypts and decrypts once the keys are derived; null before.</summary>
    public V1MessageProtector? Protector { get; private set; }

    /// <summary>Phase 1's working state; null once phase 1 ended.</summary>
    public V1Phase1Data? Phase1 { get; private set; } = new();

    /// <summary>Exchanges in progress after phase 1, by message ID (their handlers' state).</summary>
    public V1ExchangeStates Exchanges { get; } = new();

    /// <summary>Initiator: the children to negotiate once phase 1 is up (quick mode's).</summary>
    public IReadOnlyList<ChildConfig> InitialChildren { get; private set; } = [];

    public TimeSpan Age => Stopwatch.GetElapsedTime(_createdTimestamp);
    public DateTime EstablishedUtc { get; private set; }

    /// <summary>Environment.TickCount64 of the last message from the peer that verified (DPD's idle measure).</summary>
    public long LastInbound { get; internal set; } = Environment.TickCount64;

    public IReadOnlyList<IkeEffect> DrainEffects()
    {
        if (_effects.Count == 0) return [];
        var drained = _effects.ToArray();
        _effects.Clear();
        return drained;
    }

    /// <summary>Queues an effect for the host (exchange handlers use it for what the SA has no method for, e.g. ChildSaEstablished).</summary>
    public void Emit(IkeEffect effect) => _effects.Add(effect);

    /// <summary>Moves the state; an illegal move is a bug in a handler.</summary>
    public void Move(V1Phase1State to)
    {
        if (!V1Phase1States.CanMove(State, to)) throw new InvalidOperationException($"IKEv1 SA {OurCookie:x16}: {State} -> {to} is not a legal move.");
        State = to;
    }

    /// <summary>
    /// Derives SKEYID_d/a/e from SKEYID and g^xy (RFC 2409 §5) and the cipher from SKEYID_e and both public values
    /// (Appendix B); SKEYID stays in <see cref="Phase1"/> for HASH_I/HASH_R.
    /// </summary>
    internal void DeriveKeys(ReadOnlySpan<byte> gxy)
    {
        var p1 = Phase1!;
        Span<byte> ckyI = stackalloc byte[8];
        Span<byte> ckyR = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(ckyI, CookieI);
        BinaryPrimitives.WriteUInt64BigEndian(ckyR, CookieR);
        (SkeyidD, SkeyidA, SkeyidE) = V1KeyDerivation.DeriveSkeyids(Prf!, p1.Skeyid, gxy, ckyI, ckyR);
        byte[] key = V1KeyDerivation.EncryptionKey(Prf!, SkeyidE, Suite.KeyLength);
        int block = Suite.Encryption == Phase1Encryption.AesCbc ? 16 : 8;
        byte[] iv = V1KeyDerivation.Phase1Iv(Prf!, p1.Gxi, p1.Gxr, block);
        Protector = V1MessageProtector.Create(Suite.Encryption, key, Prf!, iv);
        CryptographicOperations.ZeroMemory(key);
    }

    /// <summary>Phase 1 (and any XAUTH/Mode Config round) is complete: the SA is up for quick mode.</summary>
    public void Establish(string proposalText)
    {
        Move(V1Phase1State.Established);
        EstablishedUtc = DateTime.UtcNow;
        Phase1?.Dispose();
        Phase1 = null;
        Context.Metrics.NegotiationSucceeded(IsInitiator, Age);
        Emit(new IkeSaEstablished(Connection?.Name ?? "", LocalId?.Text ?? "", RemoteId?.Text ?? "",
            new IkeSaSummary(proposalText, Age, NatDetected, 0)));
        OnEstablished();
    }

    /// <summary>The SA cannot go on: counted, and the host stops after draining.</summary>
    public void Fail(CloseReason reason)
    {
        if (State == V1Phase1State.Closed) return;
        bool established = State is V1Phase1State.Established or V1Phase1State.Deleting;
        if (!established) Context.Metrics.NegotiationFailed(IsInitiator, reason);
        Context.Metrics.CountClosed(reason, established);
        Move(V1Phase1State.Closed);
        if (_requests.Count > 0)
        {
            _requests.Clear();
            Emit(new CancelRetransmit());
        }
        Emit(new IkeSaClosed(reason));
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Phase1?.Dispose();
        Phase1 = null;
        Exchanges.Clear();
        Protector?.Dispose();
        CryptographicOperations.ZeroMemory(SkeyidD);
        CryptographicOperations.ZeroMemory(SkeyidA);
        CryptographicOperations.ZeroMemory(SkeyidE);
    }
}

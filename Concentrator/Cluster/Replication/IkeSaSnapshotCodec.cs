using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Cluster.Replication;

// Version 1, or 2 when the SA has virtual IPs (version 1 followed by them), or 3 when its peer logged in by EAP (version 1
// followed by its virtual IPs, its EAP identity and login method), big-endian; "bytes" = u16 length + octets, "string" = bytes of UTF-8, "endpoint" = u8 4|6, address, u16 port,
// "identity" = u8 present, u8 ID type, bytes, "selectors" = bytes holding a TS payload body (RFC 7296 §3.13; empty = none),
// "time" = i64 UTC ticks.
//
//   u8 version | u8 flags (initiator, NAT-T, NAT detected, behind NAT, peer fragments, MOBIKE, roles swapped) | u8 state | u64 SPIi | u64 SPIr
//   i64 state version | time established | string connection | u8 n, n x string candidate | endpoint local, remote
//   identity local, remote | u16 encr, u16 key bits, u16 prf, u16 integ, u16 group | 7 x bytes SK_d ai ar ei er pi pr
//   bytes Ni, Nr, IKE_SA_INIT request, response | u32 our next request ID | u32 peer's next request ID
//   u8 cached: 0 none, 1 u32 ID + bytes request + bytes response, 2 u32 ID (the IKE_SA_INIT exchange above, half-open)
//   u16 n children, each:
//     string child | u32 inbound SPI | u32 outbound SPI | u16 encr, u16 key bits, u16 integ, u16 group, u8 ESN
//     4 x bytes keys (in encr, in integ, out encr, out integ) | selectors local, remote | u8 transport | i32 replay window
//     time created | u64 outbound mark | u64 inbound floor | u8 replaced | u32 successor
//   version 2 only: u8 n virtual IPs (1..255), each: string pool ("" = assigned to us by the peer) | u8 4|6, address
//   version 3 only: u8 n virtual IPs (0..255) as version 2's | identity EAP identity | string login method
//   version 4 only: u8 n virtual IPs (0..255) as version 2's | u8 EAP (0 none, 1 identity EAP identity | string login
//                   method) | n children x u8 IPsec mode (0 tunnel, 1 transport), in the children's order

/// <summary>
/// Binary form of <see cref="IkeSaSnapshot"/> for replication between cluster nodes (in memory and over remoting only).
/// Decoding treats the bytes as untrusted: every failure is a <see cref="ParseStatus"/>, never an exception.
/// </summary>
public static partial class IkeSaSnapshotCodec
{
    public const byte Version = 1;

    /// <summary>Version 1 followed by the SA's virtual IPs; written only for an SA that has some, so every other snapshot
    /// stays readable by nodes that know version 1 only (a node that does not know version 2 refuses the SA rather than
    /// adopting it without its address).</summary>
    public const byte VersionWithVirtualIps = 2;

    /// <summary>Version 1 followed by the virtual IPs (none or more), the EAP identity and the login method; written only
    /// for an SA whose peer logged in by EAP, so an adopter keeps its user (a node that does not know version 3 refuses it).</summary>
    public const byte VersionWithEap = 3;

    private const byte FlagInitiator = 1, FlagNatT = 2, FlagNatDetected = 4, FlagBehindNat = 8, FlagPeerFragments = 16;

    // MOBIKE negotiated, and the original initiator is not the initiator of the SA's last IKE rekey: absent from (0 in) the
    // snapshots of nodes before them, which therefore decode as before; a node before them refuses a snapshot with one set.
    private const byte FlagMobike = 32, FlagRolesSwapped = 64;
    private const byte KnownFlags = FlagInitiator | FlagNatT | FlagNatDetected | FlagBehindNat | FlagPeerFragments | FlagMobike | FlagRolesSwapped;
    private const byte CachedNone = 0, CachedInline = 1, CachedInitExchange = 2;

    public static byte[] Encode(IkeSaSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var buffer = new byte[EncodedLength(snapshot)];
        var w = new SpanWriter(buffer);
        w.WriteUInt8(VersionOf(snapshot));
        w.WriteUInt8((byte)((snapshot.IsInitiator ? FlagInitiator : 0) | (snapshot.NatT ? FlagNatT : 0) |
                            (snapshot.NatDetected ? FlagNatDetected : 0) | (snapshot.BehindNat ? FlagBehindNat : 0) |
                            (snapshot.PeerSupportsFragmentation ? FlagPeerFragments : 0) | (snapshot.PeerSupportsMobike ? FlagMobike : 0) |
                            (snapshot.RolesSwapped ? FlagRolesSwapped : 0)));
        w.WriteUInt8((byte)snapshot.State);
        w.WriteUInt64(snapshot.SpiI);
        w.WriteUInt64(snapshot.SpiR);
        w.WriteUInt64((ulong)snapshot.StateVersion);
        WriteTime(ref w, snapshot.EstablishedUtc);
        WriteString(ref w, snapshot.Connection);
        w.WriteUInt8(checked((byte)snapshot.Candidates.Count));
        foreach (var c in snapshot.Candidates) WriteString(ref w, c);
        WriteEndpoint(ref w, snapshot.Local);
        WriteEndpoint(ref w, snapshot.Remote);
        WriteIdentity(ref w, snapshot.LocalId);
        WriteIdentity(ref w, snapshot.RemoteId);
        var s = snapshot.Suite;
        w.WriteUInt16((ushort)s.Encryption);
        w.WriteUInt16(checked((ushort)s.KeyBits));
        w.WriteUInt16((ushort)s.Prf);
        w.WriteUInt16((ushort)s.Integrity);
        w.WriteUInt16((ushort)s.Group);
        var k = snapshot.Keys;
        foreach (var key in (ReadOnlySpan<byte[]>)[k.SkD, k.SkAi, k.SkAr, k.SkEi, k.SkEr, k.SkPi, k.SkPr]) WriteBytes(ref w, key);
        WriteBytes(ref w, snapshot.NonceI);
        WriteBytes(ref w, snapshot.NonceR);
        WriteBytes(ref w, snapshot.InitRequest);
        WriteBytes(ref w, snapshot.InitResponse);
        w.WriteUInt32(snapshot.NextRequestId);
        w.WriteUInt32(snapshot.PeerNextRequestId);
        switch (CachedForm(snapshot))
        {
            case CachedInline:
                w.WriteUInt8(CachedInline);
                w.WriteUInt32(snapshot.LastResponse!.MessageId);
                WriteBytes(ref w, snapshot.LastResponse.Request);
                WriteBytes(ref w, snapshot.LastResponse.Response);
                break;
            case CachedInitExchange:
                w.WriteUInt8(CachedInitExchange);
                w.WriteUInt32(snapshot.LastResponse!.MessageId);
                break;
            default:
                w.WriteUInt8(CachedNone);
                break;
        }

        w.WriteUInt16(checked((ushort)snapshot.Children.Count));
        foreach (var c in snapshot.Children)
        {
            WriteString(ref w, c.Child);
            w.WriteUInt32(c.InboundSpi);
            w.WriteUInt32(c.OutboundSpi);
            w.WriteUInt16((ushort)c.Suite.Encryption);
            w.WriteUInt16(checked((ushort)c.Suite.KeyBits));
            w.WriteUInt16((ushort)c.Suite.Integrity);
            w.WriteUInt16((ushort)c.Suite.Group);
            w.WriteUInt8(c.Suite.Esn ? (byte)1 : (byte)0);
            WriteBytes(ref w, c.InboundEncryptionKey);
            WriteBytes(ref w, c.InboundIntegrityKey);
            WriteBytes(ref w, c.OutboundEncryptionKey);
            WriteBytes(ref w, c.OutboundIntegrityKey);
            WriteSelectors(ref w, c.LocalTs);
            WriteSelectors(ref w, c.RemoteTs);
            w.WriteUInt8((byte)c.Transport);
            w.WriteUInt32((uint)c.ReplayWindow);
            WriteTime(ref w, c.CreatedUtc);
            w.WriteUInt64(c.OutboundSequenceMark);
            w.WriteUInt64(c.InboundSequenceFloor);
            w.WriteUInt8(c.Replaced ? (byte)1 : (byte)0);
            w.WriteUInt32(c.Successor);
        }

        if (VersionOf(snapshot) == VersionWithModes)
        {
            WriteModesTrailer(ref w, snapshot);
        }
        else if (VersionOf(snapshot) != Version)
        {
            w.WriteUInt8(checked((byte)snapshot.VirtualIps.Count));
            foreach (var vip in snapshot.VirtualIps)
            {
                WriteString(ref w, vip.Pool);
                WriteAddress(ref w, vip.Address);
            }
        }
        if (snapshot.EapIdentity is not null && VersionOf(snapshot) == VersionWithEap)
        {
            WriteIdentity(ref w, snapshot.EapIdentity);
            WriteString(ref w, snapshot.LoginMethod ?? "");
        }

        if (w.Position != buffer.Length) throw new InvalidOperationException("snapshot length mismatch");
        return buffer;
    }

    /// <summary>
    /// Decodes a snapshot. Ok only for a buffer of exactly one well-formed version-1 or version-2 snapshot of an Established or
    /// Connecting SA; <see cref="ParseStatus.BadVersion"/> for another version byte. The caller owns (and disposes) the
    /// result.
    /// </summary>
    public static ParseStatus TryDecode(ReadOnlySpan<byte> data, out IkeSaSnapshot? snapshot)
    {
        // Keys and nonces read before a later field fails are zeroed: bytes from another node never linger half-decoded.
        var secrets = new List<byte[]>();
        var status = Decode(data, secrets, out snapshot);
        if (status != ParseStatus.Ok)
        {
            foreach (var secret in secrets) CryptographicOperations.ZeroMemory(secret);
        }
        return status;
    }

    private static ParseStatus Decode(ReadOnlySpan<byte> data, List<byte[]> secrets, out IkeSaSnapshot? snapshot)
    {
        snapshot = null;
        var r = new SpanReader(data);
        if (!r.TryReadUInt8(out byte version)) return ParseStatus.Truncated;
        if (version is not (Version or VersionWithVirtualIps or VersionWithEap or VersionWithModes)) return ParseStatus.BadVersion;
        if (!r.TryReadUInt8(out byte flags) || !r.TryReadUInt8(out byte state) || !r.TryReadUInt64(out ulong spiI) ||
            !r.TryReadUInt64(out ulong spiR) || !r.TryReadUInt64(out ulong stateVersion))
        {
            return ParseStatus.Truncated;
        }

        if ((flags & ~KnownFlags) != 0) return ParseStatus.InvalidSyntax;
        if ((IkeSaState)state is not (IkeSaState.Established or IkeSaState.Connecting)) return ParseStatus.InvalidSyntax;
        // Only a responder is snapshot half-open (IkeSaSnapshotter.CanSnapshot).
        if ((IkeSaState)state == IkeSaState.Connecting && (flags & FlagInitiator) != 0) return ParseStatus.InvalidSyntax;

        ParseStatus st;
        if ((st = ReadTime(ref r, out var established)) != ParseStatus.Ok) return st;
        if ((st = ReadString(ref r, out var connection)) != ParseStatus.Ok) return st;
        if (!r.TryReadUInt8(out byte candidateCount)) return ParseStatus.Truncated;
        var candidates = new string[candidateCount];
        for (int i = 0; i < candidateCount; i++)
        {
            if ((st = ReadString(ref r, out candidates[i])) != ParseStatus.Ok) return st;
        }

        if ((st = ReadEndpoint(ref r, out var local)) != ParseStatus.Ok) return st;
        if ((st = ReadEndpoint(ref r, out var remote)) != ParseStatus.Ok) return st;
        if ((st = ReadIdentity(ref r, out var localId)) != ParseStatus.Ok) return st;
        if ((st = ReadIdentity(ref r, out var remoteId)) != ParseStatus.Ok) return st;
        if (!r.TryReadUInt16(out ushort encr) || !r.TryReadUInt16(out ushort keyBits) || !r.TryReadUInt16(out ushort prf) ||
            !r.TryReadUInt16(out ushort integ) || !r.TryReadUInt16(out ushort group))
        {
            return ParseStatus.Truncated;
        }

        var keys = new byte[7][];
        for (int i = 0; i < keys.Length; i++)
        {
            if ((st = ReadBytes(ref r, out keys[i])) != ParseStatus.Ok) return st;
            secrets.Add(keys[i]);
        }

        if ((st = ReadBytes(ref r, out var nonceI)) != ParseStatus.Ok || Secret(secrets, nonceI) ||
            (st = ReadBytes(ref r, out var nonceR)) != ParseStatus.Ok || Secret(secrets, nonceR) ||
            (st = ReadBytes(ref r, out var initRequest)) != ParseStatus.Ok ||
            (st = ReadBytes(ref r, out var initResponse)) != ParseStatus.Ok)
        {
            return st;
        }

        if (!r.TryReadUInt32(out uint nextRequestId) || !r.TryReadUInt32(out uint peerNextRequestId) || !r.TryReadUInt8(out byte hasCached))
        {
            return ParseStatus.Truncated;
        }

        CachedIkeResponse? lastResponse = null;
        if (hasCached > CachedInitExchange) return ParseStatus.InvalidSyntax;
        if (hasCached != CachedNone)
        {
            if (!r.TryReadUInt32(out uint cachedId)) return ParseStatus.Truncated;
            byte[] cachedRequest, cachedResponse;
            if (hasCached == CachedInitExchange)
            {
                if (initRequest.Length == 0 || initResponse.Length == 0) return ParseStatus.InvalidSyntax;
                cachedRequest = initRequest.ToArray();
                cachedResponse = initResponse.ToArray();
            }
            else if ((st = ReadBytes(ref r, out cachedRequest)) != ParseStatus.Ok || (st = ReadBytes(ref r, out cachedResponse)) != ParseStatus.Ok)
            {
                return st;
            }
            lastResponse = new CachedIkeResponse(cachedId, cachedRequest, cachedResponse);
        }

        if (!r.TryReadUInt16(out ushort childCount)) return ParseStatus.Truncated;
        var children = new List<ChildSaSnapshot>(Math.Min((int)childCount, 64));
        for (int i = 0; i < childCount; i++)
        {
            if ((st = ReadChild(ref r, secrets, out var child)) != ParseStatus.Ok) return st;
            children.Add(child!);
        }

        var vips = new List<VirtualIp>();
        Identity? eapIdentity = null;
        string? loginMethod = null;
        if (version == VersionWithModes)
        {
            if ((st = ReadModesTrailer(ref r, vips, children, out eapIdentity, out loginMethod)) != ParseStatus.Ok) return st;
        }
        else if (version != Version && (st = ReadVirtualIps(ref r, vips, allowNone: version == VersionWithEap)) != ParseStatus.Ok) return st;
        if (version == VersionWithEap)
        {
            if ((st = ReadIdentity(ref r, out eapIdentity)) != ParseStatus.Ok || (st = ReadString(ref r, out loginMethod)) != ParseStatus.Ok) return st;
            if (eapIdentity is null) return ParseStatus.InvalidSyntax;
        }

        if (r.Remaining != 0) return ParseStatus.BadLength;

        snapshot = new IkeSaSnapshot
        {
            SpiI = spiI,
            SpiR = spiR,
            IsInitiator = (flags & FlagInitiator) != 0,
            State = (IkeSaState)state,
            Connection = connection,
            Candidates = candidates,
            Local = local!,
            Remote = remote!,
            NatT = (flags & FlagNatT) != 0,
            NatDetected = (flags & FlagNatDetected) != 0,
            BehindNat = (flags & FlagBehindNat) != 0,
            PeerSupportsFragmentation = (flags & FlagPeerFragments) != 0,
            PeerSupportsMobike = (flags & FlagMobike) != 0,
            RolesSwapped = (flags & FlagRolesSwapped) != 0,
            StateVersion = (long)stateVersion,
            EstablishedUtc = established,
            LocalId = localId,
            RemoteId = remoteId,
            EapIdentity = eapIdentity,
            LoginMethod = loginMethod is { Length: > 0 } ? loginMethod : null,
            Suite = new IkeSuite((EncrAlgorithm)encr, keyBits, (PrfAlgorithm)prf, (IntegAlgorithm)integ, (DhGroup)group),
            Keys = new IkeKeys { SkD = keys[0], SkAi = keys[1], SkAr = keys[2], SkEi = keys[3], SkEr = keys[4], SkPi = keys[5], SkPr = keys[6] },
            NonceI = nonceI,
            NonceR = nonceR,
            InitRequest = initRequest,
            InitResponse = initResponse,
            NextRequestId = nextRequestId,
            PeerNextRequestId = peerNextRequestId,
            LastResponse = lastResponse,
            Children = children,
            VirtualIps = vips,
        };
        return ParseStatus.Ok;
    }

    private static ParseStatus ReadVirtualIps(ref SpanReader r, List<VirtualIp> vips, bool allowNone)
    {
        if (!r.TryReadUInt8(out byte count)) return ParseStatus.Truncated;
        if (count == 0 && !allowNone) return ParseStatus.InvalidSyntax; // version 2 means at least one
        for (int i = 0; i < count; i++)
        {
            ParseStatus st;
            if ((st = ReadString(ref r, out var pool)) != ParseStatus.Ok || (st = ReadAddress(ref r, out var address)) != ParseStatus.Ok) return st;
            vips.Add(new VirtualIp(pool, address!));
        }
        return ParseStatus.Ok;
    }

    /// <summary>Registers a secret read for zeroing on failure; false, so it chains into a condition of reads.</summary>
    private static bool Secret(List<byte[]> secrets, byte[] secret)
    {
        secrets.Add(secret);
        return false;
    }

    private static ParseStatus ReadChild(ref SpanReader r, List<byte[]> secrets, out ChildSaSnapshot? child)
    {
        child = null;
        ParseStatus st;
        if ((st = ReadString(ref r, out var name)) != ParseStatus.Ok) return st;
        if (!r.TryReadUInt32(out uint inbound) || !r.TryReadUInt32(out uint outbound) || !r.TryReadUInt16(out ushort encr) ||
            !r.TryReadUInt16(out ushort keyBits) || !r.TryReadUInt16(out ushort integ) || !r.TryReadUInt16(out ushort group) ||
            !r.TryReadUInt8(out byte esn))
        {
            return ParseStatus.Truncated;
        }

        if (esn > 1) return ParseStatus.InvalidSyntax;
        if ((st = ReadBytes(ref r, out var inEncr)) != ParseStatus.Ok || Secret(secrets, inEncr) ||
            (st = ReadBytes(ref r, out var inInteg)) != ParseStatus.Ok || Secret(secrets, inInteg) ||
            (st = ReadBytes(ref r, out var outEncr)) != ParseStatus.Ok || Secret(secrets, outEncr) ||
            (st = ReadBytes(ref r, out var outInteg)) != ParseStatus.Ok || Secret(secrets, outInteg) ||
            (st = ReadSelectors(ref r, PayloadType.TsInitiator, out var localTs)) != ParseStatus.Ok ||
            (st = ReadSelectors(ref r, PayloadType.TsResponder, out var remoteTs)) != ParseStatus.Ok)
        {
            return st;
        }

        if (!r.TryReadUInt8(out byte transport) || !r.TryReadUInt32(out uint replayWindow)) return ParseStatus.Truncated;
        if ((EspTransport)transport is not (EspTransport.UdpEncapsulated or EspTransport.RawEsp) || replayWindow > int.MaxValue)
        {
            return ParseStatus.InvalidSyntax;
        }

        if ((st = ReadTime(ref r, out var created)) != ParseStatus.Ok) return st;
        if (!r.TryReadUInt64(out ulong outboundMark) || !r.TryReadUInt64(out ulong inboundFloor) || !r.TryReadUInt8(out byte replaced) ||
            !r.TryReadUInt32(out uint successor))
        {
            return ParseStatus.Truncated;
        }

        if (replaced > 1) return ParseStatus.InvalidSyntax;
        child = new ChildSaSnapshot(name, inbound, outbound, new EspSuite((EncrAlgorithm)encr, keyBits, (IntegAlgorithm)integ, (DhGroup)group, esn == 1),
            inEncr, inInteg, outEncr, outInteg, localTs, remoteTs, (EspTransport)transport, (int)replayWindow, created, outboundMark, inboundFloor)
        {
            Replaced = replaced == 1,
            Successor = successor,
        };
        return ParseStatus.Ok;
    }

    // ---- Length ----

    private static byte VersionOf(IkeSaSnapshot s) =>
        HasTransportChild(s) ? VersionWithModes : s.EapIdentity is not null ? VersionWithEap : s.VirtualIps.Count > 0 ? VersionWithVirtualIps : Version;

    private static int EncodedLength(IkeSaSnapshot s)
    {
        int n = 3 + 8 + 8 + 8 + 8;
        n += StringLength(s.Connection) + 1;
        foreach (var c in s.Candidates) n += StringLength(c);
        n += EndpointLength(s.Local) + EndpointLength(s.Remote) + IdentityLength(s.LocalId) + IdentityLength(s.RemoteId);
        n += 10;
        var k = s.Keys;
        n += 7 * 2 + k.SkD.Length + k.SkAi.Length + k.SkAr.Length + k.SkEi.Length + k.SkEr.Length + k.SkPi.Length + k.SkPr.Length;
        n += 4 * 2 + s.NonceI.Length + s.NonceR.Length + s.InitRequest.Length + s.InitResponse.Length;
        n += 4 + 4 + 1;
        n += CachedForm(s) switch
        {
            CachedInline => 4 + 2 + s.LastResponse!.Request.Length + 2 + s.LastResponse.Response.Length,
            CachedInitExchange => 4,
            _ => 0,
        };
        n += 2;
        foreach (var c in s.Children)
        {
            n += StringLength(c.Child) + 4 + 4 + 9;
            n += 4 * 2 + c.InboundEncryptionKey.Length + c.InboundIntegrityKey.Length + c.OutboundEncryptionKey.Length + c.OutboundIntegrityKey.Length;
            n += SelectorsLength(c.LocalTs) + SelectorsLength(c.RemoteTs);
            n += 1 + 4 + 8 + 8 + 8 + 1 + 4;
        }
        if (VersionOf(s) == VersionWithModes) return n + ModesTrailerLength(s);
        if (s.EapIdentity is not null) n += IdentityLength(s.EapIdentity) + StringLength(s.LoginMethod ?? "");
        if (VersionOf(s) != Version)
        {
            n += 1;
            foreach (var vip in s.VirtualIps) n += StringLength(vip.Pool) + 1 + (vip.Address.AddressFamily == AddressFamily.InterNetworkV6 ? 16 : 4);
        }
        return n;
    }

    /// <summary>A half-open responder's cached response is its IKE_SA_INIT exchange, already in the snapshot: not sent twice.</summary>
    private static byte CachedForm(IkeSaSnapshot s) => s.LastResponse switch
    {
        null => CachedNone,
        var c when s.InitRequest.Length > 0 && c.Request.AsSpan().SequenceEqual(s.InitRequest) && c.Response.AsSpan().SequenceEqual(s.InitResponse) =>
            CachedInitExchange,
        _ => CachedInline,
    };

    private static int StringLength(string s) => 2 + Encoding.UTF8.GetByteCount(s);
    private static int EndpointLength(IPEndPoint ep) => 1 + (ep.AddressFamily == AddressFamily.InterNetworkV6 ? 16 : 4) + 2;
    private static int IdentityLength(Identity? id) => id is null ? 1 : 1 + 1 + 2 + id.Data.Length;
    private static int SelectorsLength(IReadOnlyList<TrafficSelector> ts) => 2 + (ts.Count == 0 ? 0 : new TsPayload(PayloadType.TsInitiator, ts).BodyLength);

    // ---- Fields ----

    private static void WriteBytes(ref SpanWriter w, ReadOnlySpan<byte> value)
    {
        w.WriteUInt16(checked((ushort)value.Length));
        w.WriteBytes(value);
    }

    private static ParseStatus ReadBytes(ref SpanReader r, out byte[] value)
    {
        value = [];
        if (!r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
        if (!r.TryReadBytes(length, out var bytes)) return ParseStatus.BadLength;
        value = bytes.ToArray();
        return ParseStatus.Ok;
    }

    private static void WriteString(ref SpanWriter w, string value) => WriteBytes(ref w, Encoding.UTF8.GetBytes(value));

    private static ParseStatus ReadString(ref SpanReader r, out string value)
    {
        value = "";
        if (!r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
        if (!r.TryReadBytes(length, out var bytes)) return ParseStatus.BadLength;
        value = Encoding.UTF8.GetString(bytes);
        return ParseStatus.Ok;
    }

    private static void WriteTime(ref SpanWriter w, DateTime utc) => w.WriteUInt64((ulong)utc.ToUniversalTime().Ticks);

    private static ParseStatus ReadTime(ref SpanReader r, out DateTime utc)
    {
        utc = default;
        if (!r.TryReadUInt64(out ulong ticks)) return ParseStatus.Truncated;
        if (ticks > (ulong)DateTime.MaxValue.Ticks) return ParseStatus.InvalidSyntax;
        utc = new DateTime((long)ticks, DateTimeKind.Utc);
        return ParseStatus.Ok;
    }

    private static void WriteEndpoint(ref SpanWriter w, IPEndPoint ep)
    {
        w.WriteUInt8(ep.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4);
        w.WriteBytes(ep.Address.GetAddressBytes());
        w.WriteUInt16((ushort)ep.Port);
    }

    private static ParseStatus ReadEndpoint(ref SpanReader r, out IPEndPoint? ep)
    {
        ep = null;
        if (!r.TryReadUInt8(out byte family)) return ParseStatus.Truncated;
        if (family is not (4 or 6)) return ParseStatus.InvalidSyntax;
        if (!r.TryReadBytes(family == 4 ? 4 : 16, out var address) || !r.TryReadUInt16(out ushort port)) return ParseStatus.Truncated;
        ep = new IPEndPoint(new IPAddress(address), port);
        return ParseStatus.Ok;
    }

    private static void WriteAddress(ref SpanWriter w, IPAddress address)
    {
        w.WriteUInt8(address.AddressFamily == AddressFamily.InterNetworkV6 ? (byte)6 : (byte)4);
        w.WriteBytes(address.GetAddressBytes());
    }

    private static ParseStatus ReadAddress(ref SpanReader r, out IPAddress? address)
    {
        address = null;
        if (!r.TryReadUInt8(out byte family)) return ParseStatus.Truncated;
        if (family is not (4 or 6)) return ParseStatus.InvalidSyntax;
        if (!r.TryReadBytes(family == 4 ? 4 : 16, out var bytes)) return ParseStatus.Truncated;
        address = new IPAddress(bytes);
        return ParseStatus.Ok;
    }

    private static void WriteIdentity(ref SpanWriter w, Identity? id)
    {
        if (id is null)
        {
            w.WriteUInt8(0);
            return;
        }

        w.WriteUInt8(1);
        w.WriteUInt8((byte)id.Type);
        WriteBytes(ref w, id.Data);
    }

    private static ParseStatus ReadIdentity(ref SpanReader r, out Identity? id)
    {
        id = null;
        if (!r.TryReadUInt8(out byte present)) return ParseStatus.Truncated;
        if (present > 1) return ParseStatus.InvalidSyntax;
        if (present == 0) return ParseStatus.Ok;
        if (!r.TryReadUInt8(out byte type)) return ParseStatus.Truncated;
        var st = ReadBytes(ref r, out var data);
        if (st != ParseStatus.Ok) return st;
        // The identity as a received ID payload would give it (Identity.FromPayload never throws).
        id = Identity.FromPayload(new IdPayload(PayloadType.IdInitiator, (IdType)type, data));
        return ParseStatus.Ok;
    }

    private static void WriteSelectors(ref SpanWriter w, IReadOnlyList<TrafficSelector> selectors)
    {
        if (selectors.Count == 0)
        {
            w.WriteUInt16(0);
            return;
        }

        var payload = new TsPayload(PayloadType.TsInitiator, selectors);
        w.WriteUInt16(checked((ushort)payload.BodyLength));
        payload.WriteBody(ref w);
    }

    private static ParseStatus ReadSelectors(ref SpanReader r, PayloadType type, out IReadOnlyList<TrafficSelector> selectors)
    {
        selectors = [];
        if (!r.TryReadUInt16(out ushort length)) return ParseStatus.Truncated;
        if (length == 0) return ParseStatus.Ok;
        if (!r.TryReadBytes(length, out var body)) return ParseStatus.BadLength;
        var st = TsPayload.TryParse(type, body, out var payload);
        if (st != ParseStatus.Ok) return st;
        selectors = payload!.Selectors;
        return ParseStatus.Ok;
    }
}

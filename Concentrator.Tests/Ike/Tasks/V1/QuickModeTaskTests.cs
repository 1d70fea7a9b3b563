using System.Net;
using System.Security.Cryptography;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Crypto.V1;
using Concentrator.Ike.Proposals;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>
/// Quick mode (RFC 2409 §5.5) between our initiator and our responder over two contexts that share one phase 1's
/// SKEYIDs, every message encoded and parsed as on the wire, and a scripted peer that forges, reorders and omits.
/// </summary>
public class QuickModeTaskTests
{
    private static readonly IPEndPoint Gw = new(IPAddress.Parse("192.0.2.1"), 4500);
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("198.51.100.7"), 4500);
    private const uint Mid = 0x3a5c0001;

    internal sealed class Context(IPEndPoint local, IPEndPoint remote, params ChildConfig[] children) : IQuickModeContext
    {
        private uint _nextSpi = local.Equals(Gw) ? 0xc0000001u : 0xd0000001u;
        public Prf Prf { get; } = V1KeyDerivation.PrfOf(Phase1Hash.Sha2_256);
        public byte[] SkeyidA { get; } = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        public byte[] SkeyidD { get; } = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();
        public IPEndPoint LocalEndpoint => local;
        public IPEndPoint RemoteEndpoint => remote;
        public bool NatDetected { get; init; } = true;
        public bool DraftNatT { get; init; }
        public string ConnectionName => "v1";
        public IReadOnlyCollection<ChildConfig> Children => children;
        public List<uint> Released { get; } = [];
        public uint AllocateSpi() => _nextSpi++;
        public void ReleaseSpi(uint spi) => Released.Add(spi);
        public byte[] NewNonce() => RandomNumberGenerator.GetBytes(32);
    }

    internal static ChildConfig Child(string esp, string local, string remote, string name = "net", string mode = "tunnel")
    {
        Assert.True(ProposalParser.TryParseEsp(esp, out var p, out var e), e);
        TrafficSelectorSpec Ts(string t) { Assert.True(TrafficSelectorSpec.TryParse(t, out var s, out var err), err); return s!; }
        return new ChildConfig { Name = name, EspProposals = [p!], LocalTs = [Ts(local)], RemoteTs = [Ts(remote)], Mode = mode, RekeyTime = TimeSpan.FromSeconds(30), LifeTime = TimeSpan.FromSeconds(40) };
    }

    /// <summary>Encoded and parsed back, as the peer receives the plaintext chain.</summary>
    internal static IReadOnlyList<V1Payload> Wire(IReadOnlyList<V1Payload> payloads)
    {
        var list = new List<V1Payload>();
        Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecodeChain(payloads[0].Type, IsakmpCodec.EncodeChain(payloads), allowPadding: true, list));
        return list;
    }

    /// <summary>As <see cref="Wire"/>, with the encoded chain after the HASH payload that the hash covers.</summary>
    internal static (IReadOnlyList<V1Payload> Payloads, byte[] AfterHash) Recv(IReadOnlyList<V1Payload> payloads)
    {
        var parsed = Wire(payloads);
        return (parsed, IsakmpCodec.EncodeChain(parsed.Skip(1).ToList()));
    }

    private static (Context I, Context R) Pair(ChildConfig ours, ChildConfig theirs) => (new Context(Peer, Gw, theirs), new Context(Gw, Peer, ours));

    private static (QuickModeTask I, QuickModeTask R) Run(Context ci, Context cr)
    {
        var i = new QuickModeTask(ci, Mid, ci.Children.First());
        var r = new QuickModeTask(cr, Mid);
        var m1 = i.BuildRequest();
        Assert.Equal(QuickModeOutcome.Send, m1.Outcome);
        var m2 = r.ProcessRequest(Recv(m1.Payloads));
        Assert.Equal(QuickModeOutcome.Send, m2.Outcome);
        Assert.Equal(QuickModeState.AwaitingHash3, r.State);
        var m3 = i.ProcessReply(Recv(m2.Payloads));
        Assert.Equal(QuickModeOutcome.Send, m3.Outcome);
        Assert.Equal(QuickModeOutcome.Established, r.ProcessHash3(Wire(m3.Payloads)).Outcome);
        return (i, r);
    }

    private static void AssertMirrored(QuickModeChild i, QuickModeChild r)
    {
        Assert.Equal(i.Install.InboundSpi, r.Install.OutboundSpi);
        Assert.Equal(i.Install.OutboundSpi, r.Install.InboundSpi);
        Assert.Equal(i.Install.OutboundEncryptionKey, r.Install.InboundEncryptionKey);
        Assert.Equal(i.Install.OutboundIntegrityKey, r.Install.InboundIntegrityKey);
        Assert.Equal(i.Install.InboundEncryptionKey, r.Install.OutboundEncryptionKey);
        Assert.Equal(i.Install.InboundIntegrityKey, r.Install.OutboundIntegrityKey);
        Assert.NotEqual(i.Install.InboundEncryptionKey, i.Install.OutboundEncryptionKey);
        Assert.Equal(i.Install.LocalTs, r.Install.RemoteTs);
        Assert.Equal(i.Install.RemoteTs, r.Install.LocalTs);
        Assert.Equal(i.Suite, r.Suite);
        Assert.False(i.Install.OutboundActive || r.Install.OutboundActive);
    }

    [Fact]
    public void Site_to_site_without_pfs_installs_mirrored_keys_and_udp_encapsulated_tunnel()
    {
        var (ci, cr) = Pair(Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16"), Child("aes128-sha256", "10.2.0.0/16", "10.1.0.0/16"));
        var (i, r) = Run(ci, cr);
        AssertMirrored(i.Result!, r.Result!);
        Assert.Equal(EspTransport.UdpEncapsulated, r.Result!.Install.Transport);
        Assert.Equal(IpsecMode.Tunnel, r.Result.Install.Mode);
        Assert.Equal("10.1.0.0", r.Result.Install.LocalTs[0].StartAddress.ToString());
        Assert.Equal(new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false), r.Result.Suite);
        Assert.Equal(16, r.Result.Install.InboundEncryptionKey.Length);
        Assert.Equal(32, r.Result.Install.InboundIntegrityKey.Length);
        Assert.Equal(40u, i.Result!.Terms.LifeSeconds);
        Assert.Equal(40u, r.Result.Terms.LifeSeconds);
    }

    [Fact]
    public void Pfs_with_modp2048_and_gcm_gives_the_same_keys_on_both_sides()
    {
        var (ci, cr) = Pair(Child("aes256gcm16-modp2048", "10.1.0.0/16", "10.2.0.0/16"), Child("aes256gcm16-modp2048", "10.2.0.0/16", "10.1.0.0/16"));
        var (i, r) = Run(ci, cr);
        AssertMirrored(i.Result!, r.Result!);
        Assert.Equal(DhGroup.Modp2048, r.Result!.Suite.Group);
        Assert.Equal(36, r.Result.Install.InboundEncryptionKey.Length);
        Assert.Empty(r.Result.Install.InboundIntegrityKey);
    }

    [Fact]
    public void Pfs_child_refuses_a_request_without_ke_and_a_request_without_a_group()
    {
        var ours = Child("aes128-sha256-modp2048", "10.1.0.0/16", "10.2.0.0/16");
        var (ci, cr) = Pair(ours, Child("aes128-sha256", "10.2.0.0/16", "10.1.0.0/16"));
        var r = new QuickModeTask(cr, Mid);
        var step = r.ProcessRequest(Recv(new QuickModeTask(ci, Mid, ci.Children.First()).BuildRequest().Payloads));
        Assert.Equal((QuickModeOutcome.Refuse, V1NotifyType.NoProposalChosen), (step.Outcome, step.Notify));
        Assert.Equal(QuickModeState.Failed, r.State);

        // the group offered, the KE payload left out (HASH(1) recomputed by the scripted peer)
        var (ci2, _) = Pair(ours, Child("aes128-sha256-modp2048", "10.2.0.0/16", "10.1.0.0/16"));
        var m1 = new QuickModeTask(ci2, Mid, ci2.Children.First()).BuildRequest().Payloads;
        var withoutKe = Rehash(ci2, m1.Skip(1).Where(p => p.Type != V1PayloadType.KeyExchange).ToList());
        r = new QuickModeTask(cr, Mid);
        step = r.ProcessRequest(Recv(withoutKe));
        Assert.Equal((QuickModeOutcome.Refuse, V1NotifyType.InvalidKeyInformation), (step.Outcome, step.Notify));
        Assert.Empty(cr.Released);
    }

    internal static List<V1Payload> Rehash(Context c, List<V1Payload> rest) =>
        [new V1DataPayload(V1PayloadType.Hash, V1KeyDerivation.QuickHash1(c.Prf, c.SkeyidA, Mid, IsakmpCodec.EncodeChain(rest))), .. rest];

    [Fact]
    public void A_forged_or_altered_message_is_dropped_without_state()
    {
        var (ci, cr) = Pair(Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16"), Child("aes128-sha256", "10.2.0.0/16", "10.1.0.0/16"));
        var m1 = new QuickModeTask(ci, Mid, ci.Children.First()).BuildRequest().Payloads;
        // another M-ID, another SKEYID_a, a changed nonce, no HASH at all
        Assert.Equal(QuickModeOutcome.Drop, new QuickModeTask(cr, Mid + 1).ProcessRequest(Recv(m1)).Outcome);
        var stranger = new Context(Gw, Peer, cr.Children.First());
        stranger.SkeyidA[0] ^= 1;
        Assert.Equal(QuickModeOutcome.Drop, new QuickModeTask(stranger, Mid).ProcessRequest(Recv(m1)).Outcome);
        var altered = m1.Select(p => p is V1DataPayload { Type: V1PayloadType.Nonce } n ? new V1DataPayload(V1PayloadType.Nonce, [.. n.Data[..^1], (byte)~n.Data[^1]]) : p).ToList();
        Assert.Equal(QuickModeOutcome.Drop, new QuickModeTask(cr, Mid).ProcessRequest(Recv(altered)).Outcome);
        var r = new QuickModeTask(cr, Mid);
        Assert.Equal(QuickModeOutcome.Drop, r.ProcessRequest(Recv(m1.Skip(1).ToList())).Outcome);
        Assert.Equal(QuickModeState.Idle, r.State);
        Assert.Null(r.Result);
    }

    [Fact]
    public void A_wrong_hash3_is_dropped_and_the_right_one_still_completes()
    {
        var (ci, cr) = Pair(Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16"), Child("aes128-sha256", "10.2.0.0/16", "10.1.0.0/16"));
        var i = new QuickModeTask(ci, Mid, ci.Children.First());
        var r = new QuickModeTask(cr, Mid);
        var m2 = r.ProcessRequest(Recv(i.BuildRequest().Payloads));
        var m3 = i.ProcessReply(Recv(m2.Payloads)).Payloads;
        var bad = (V1DataPayload)m3[0];
        Assert.Equal(QuickModeOutcome.Drop, r.ProcessHash3([new V1DataPayload(V1PayloadType.Hash, [.. bad.Data[..^1], (byte)(bad.Data[^1] ^ 0x80)])]).Outcome);
        Assert.Equal(QuickModeOutcome.Drop, r.ProcessHash3([.. m3, new V1DataPayload(V1PayloadType.Nonce, new byte[16])]).Outcome);
        // a replayed message 2 at the initiator after it finished
        Assert.Equal(QuickModeOutcome.Drop, i.ProcessReply(Recv(m2.Payloads)).Outcome);
        Assert.Equal(QuickModeState.AwaitingHash3, r.State);
        Assert.Equal(QuickModeOutcome.Established, r.ProcessHash3(Wire(m3)).Outcome);
        Assert.Equal(QuickModeOutcome.Drop, r.ProcessHash3(Wire(m3)).Outcome);
    }

    [Fact]
    public void Selectors_outside_every_child_are_invalid_id_information_and_a_wider_request_is_narrowed()
    {
        var (ci, cr) = Pair(Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16"), Child("aes128-sha256", "10.9.0.0/16", "10.1.0.0/16"));
        var step = new QuickModeTask(cr, Mid).ProcessRequest(Recv(new QuickModeTask(ci, Mid, ci.Children.First()).BuildRequest().Payloads));
        Assert.Equal((QuickModeOutcome.Refuse, V1NotifyType.InvalidIdInformation), (step.Outcome, step.Notify));

        // the peer asks for 10.0.0.0/8 behind us, we allow 10.1.0.0/16: the reply narrows and the initiator accepts
        (ci, cr) = Pair(Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16"), Child("aes128-sha256", "10.2.0.0/16", "10.0.0.0/8"));
        var (i, r) = Run(ci, cr);
        Assert.Equal("10.1.255.255", r.Result!.Install.LocalTs[0].EndAddress.ToString());
        Assert.Equal("10.1.255.255", i.Result!.Install.RemoteTs[0].EndAddress.ToString());
    }

    [Fact]
    public void Initiator_refuses_a_reply_that_widens_its_selectors()
    {
        var (ci, cr) = Pair(Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16"), Child("aes128-sha256", "10.2.0.0/16", "10.1.0.0/16"));
        var i2 = new QuickModeTask(ci, Mid, ci.Children.First());
        var m1 = i2.BuildRequest().Payloads;
        var ni = ((V1DataPayload)m1.First(p => p.Type == V1PayloadType.Nonce)).Data;
        var m2b = new QuickModeTask(cr, Mid).ProcessRequest(Recv(m1)).Payloads.Skip(1).Select(p => p is V1IdPayload { IdType: V1IdType.Ipv4Subnet } id && id.Data[1] == 1
            ? new V1IdPayload(V1IdType.Ipv4Subnet, [10, 0, 0, 0, 255, 0, 0, 0]) : p).ToList();
        List<V1Payload> forged = [new V1DataPayload(V1PayloadType.Hash, V1KeyDerivation.QuickHash2(ci.Prf, ci.SkeyidA, Mid, ni, IsakmpCodec.EncodeChain(m2b))), .. m2b];
        var step = i2.ProcessReply(Recv(forged));
        Assert.Equal((QuickModeOutcome.Refuse, V1NotifyType.InvalidIdInformation), (step.Outcome, step.Notify));
        Assert.Null(i2.Result);
        Assert.Equal([0xd0000001u], ci.Released);
    }

    [Fact]
    public void Requests_without_ids_use_the_phase1_hosts_and_the_reply_carries_none()
    {
        var ours = Child("aes128-sha256", "192.0.2.1/32", "198.51.100.7/32");
        var (ci, cr) = Pair(ours, Child("aes128-sha256", "198.51.100.7/32", "192.0.2.1/32"));
        var m1 = new QuickModeTask(ci, Mid, ci.Children.First()).BuildRequest().Payloads;
        var r = new QuickModeTask(cr, Mid);
        var m2 = r.ProcessRequest(Recv(Rehash(ci, m1.Skip(1).Where(p => p.Type != V1PayloadType.Identification).ToList())));
        Assert.Equal(QuickModeOutcome.Send, m2.Outcome);
        Assert.DoesNotContain(m2.Payloads, p => p.Type == V1PayloadType.Identification);
        Assert.Equal("198.51.100.7", r.Result!.Install.RemoteTs[0].StartAddress.ToString());

        // without IDs a subnet child does not fit the hosts
        var (_, cr2) = Pair(Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16"), ours);
        var step = new QuickModeTask(cr2, Mid).ProcessRequest(Recv(Rehash(ci, m1.Skip(1).Where(p => p.Type != V1PayloadType.Identification).ToList())));
        Assert.Equal(V1NotifyType.InvalidIdInformation, step.Notify);
    }

    [Fact]
    public void Without_nat_the_udp_modes_are_refused_and_plain_tunnel_taken()
    {
        var ours = Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16");
        var theirs = Child("aes128-sha256", "10.2.0.0/16", "10.1.0.0/16");
        var ci = new Context(Peer, Gw, theirs) { NatDetected = true };
        var cr = new Context(Gw, Peer, ours) { NatDetected = false };
        var step = new QuickModeTask(cr, Mid).ProcessRequest(Recv(new QuickModeTask(ci, Mid, theirs).BuildRequest().Payloads));
        Assert.Equal(V1NotifyType.NoProposalChosen, step.Notify);
        var (i, r) = Run(new Context(Peer, Gw, theirs) { NatDetected = false }, cr);
        Assert.Equal(EspTransport.RawEsp, r.Result!.Install.Transport);
        AssertMirrored(i.Result!, r.Result!);
    }

    [Fact]
    public void Illegal_transitions_throw_and_abandon_returns_the_spi()
    {
        var (ci, _) = Pair(Child("aes128-sha256", "10.1.0.0/16", "10.2.0.0/16"), Child("aes128-sha256", "10.2.0.0/16", "10.1.0.0/16"));
        var i = new QuickModeTask(ci, Mid, ci.Children.First());
        i.BuildRequest();
        Assert.Throws<InvalidOperationException>(() => i.BuildRequest());
        i.Abandon();
        Assert.Equal(QuickModeState.Failed, i.State);
        Assert.Equal([0xd0000001u], ci.Released);
    }
}

internal static class QuickModeTaskReceive
{
    public static QuickModeStep ProcessRequest(this QuickModeTask task, (IReadOnlyList<V1Payload> Payloads, byte[] AfterHash) m) => task.ProcessRequest(m.Payloads, m.AfterHash);
    public static QuickModeStep ProcessReply(this QuickModeTask task, (IReadOnlyList<V1Payload> Payloads, byte[] AfterHash) m) => task.ProcessReply(m.Payloads, m.AfterHash);
}

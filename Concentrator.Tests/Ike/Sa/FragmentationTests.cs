using System.Buffers.Binary;
using System.Net;
using Concentrator.Cluster.Replication;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Ike.Sa;

/// <summary>
/// IKE fragmentation (RFC 7383) between two <see cref="IkeSa"/> objects wired directly, as <see cref="IkeSaPairTests"/>:
/// announcement per the connections' fragmentation values, SKF fragments within charon.fragment_size, reassembly in any
/// order, duplicates, forgeries (each fragment verified before it is kept), the bounds (Total Fragments, max_packet,
/// fragment_memory) and retransmission by fragments both ways. Fragments here are at most 576-octet IPv4 datagrams and the
/// initiator's child announces 24 IPv6 prefixes, so IKE_AUTH takes three fragments each way.
/// </summary>
public sealed class FragmentationTests
{
    private static readonly IPEndPoint InitiatorEp = new(IPAddress.Parse("192.0.2.1"), 500);
    private static readonly IPEndPoint ResponderEp = new(IPAddress.Parse("192.0.2.2"), 500);
    private static readonly IkeTunables Small = IkeTunables.Default with { FragmentSizeV4 = 576 };

    /// <summary>IKE octets per datagram at fragment_size 576 on port 500: 576 less 20 (IPv4) and 8 (UDP).</summary>
    private const int MaxMessage = 576 - 20 - 8;

    private const string Gcm = "aes256gcm16-prfsha256-x25519";
    private const string Cbc = "aes256-sha256-x25519";

    private static string Prefixes(int count) => string.Join(", ", Enumerable.Range(1, count).Select(i => $"\"2001:db8:1:{i:x}::/64\""));

    private sealed class Side
    {
        public required IkeSa Sa { get; set; }
        public required InMemoryDataPlane Plane { get; init; }
        public required ConcentratorMetrics Metrics { get; init; }
        public List<IkeEffect> Seen { get; } = new();

        public List<byte[]> Drain()
        {
            var effects = Sa.DrainEffects();
            Seen.AddRange(effects);
            foreach (var e in effects)
            {
                if (e is ChildSaEstablished c) Plane.AddSa(c.Install);
                if (e is ChildSaRemoved r) Plane.DeleteSa(r.InboundSpi);
            }
            return effects.OfType<SendMessage>().Select(s => s.Datagram).ToList();
        }

        public MetricsText Scrape() => new(MetricsEndpointTests.ExportAsync(Metrics.Registry).GetAwaiter().GetResult());

        public double Dropped(string reason) => Scrape().Sum("concentrator_ike_messages_dropped_total", ("reason", reason));
    }

    private static (Side I, Side R) Create(string initiator = "yes", string responder = "yes", string proposals = Gcm,
        ResourceLimits? responderLimits = null, IkeTunables? tunables = null, int prefixes = 24, IkeSaContext? responderContext = null)
    {
        var rConfig = ConcentratorConfig.Parse(TestGateway.ResponderYaml(proposals, remoteTs: "10.200.0.0/16, \"2001:db8:1::/48\"")
            .Replace("  rw:\n", $"  rw:\n    fragmentation: {responder}\n"), "<r>");
        var iConfig = ConcentratorConfig.Parse(TestGateway.InitiatorYaml(proposals, localTs: $"10.200.1.0/24, {Prefixes(prefixes)}")
            .Replace("  site:\n", $"  site:\n    fragmentation: {initiator}\n"), "<i>");
        var rMetrics = new ConcentratorMetrics();
        var iMetrics = new ConcentratorMetrics();
        var rPlane = new InMemoryDataPlane();
        var iPlane = new InMemoryDataPlane();
        var rContext = responderContext ?? new IkeSaContext
        {
            Resolver = new ConfigConnectionResolver(rConfig), DataPlane = rPlane, Tunables = tunables ?? Small, Metrics = rMetrics,
            Limits = responderLimits ?? ResourceLimits.Default,
        };
        var iContext = new IkeSaContext
        {
            Resolver = new ConfigConnectionResolver(iConfig), DataPlane = iPlane, Tunables = tunables ?? Small, Metrics = iMetrics,
        };
        var initiatorSa = IkeSa.CreateInitiator(iContext, iConfig.Connections["site"], 0x1111_2222_3333_4444, InitiatorEp, ResponderEp);
        var responderSa = IkeSa.CreateResponder(rContext, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888, ResponderEp, InitiatorEp, natT: false);
        return (new Side { Sa = initiatorSa, Plane = iPlane, Metrics = iMetrics },
            new Side { Sa = responderSa, Plane = (InMemoryDataPlane)rContext.DataPlane, Metrics = rContext.Metrics });
    }

    private static List<byte[]> Deliver(Side to, IEnumerable<byte[]> datagrams)
    {
        var from = to.Sa.IsInitiator ? ResponderEp : InitiatorEp;
        var at = to.Sa.IsInitiator ? InitiatorEp : ResponderEp;
        var sent = new List<byte[]>();
        foreach (var d in datagrams)
        {
            to.Sa.HandleDatagram(d, from, at, viaNatT: false);
            sent.AddRange(to.Drain());
        }
        return sent;
    }

    /// <summary>Runs IKE_SA_INIT; returns the initiator's IKE_AUTH request as sent (its fragments, or one datagram).</summary>
    private static List<byte[]> ThroughInit(Side i, Side r)
    {
        i.Sa.Initiate();
        var initResponse = Deliver(r, i.Drain());
        return Deliver(i, initResponse);
    }

    private static IkeMessage Decode(byte[] datagram)
    {
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(datagram, out var message));
        return message!;
    }

    private static EncryptedPayload Skf(byte[] datagram) => Assert.IsType<EncryptedPayload>(Assert.Single(Decode(datagram).Payloads)) is
        { IsFragment: true } skf ? skf : throw new Xunit.Sdk.XunitException("not an SKF fragment");

    /// <summary>Fragments 1..n of one message: each within the datagram bound, numbered in order, the first inner type in the first only.</summary>
    private static void AssertFragments(List<byte[]> fragments, ExchangeType exchange, bool response)
    {
        Assert.True(fragments.Count >= 2, $"{fragments.Count} datagram(s), expected fragments");
        for (int n = 0; n < fragments.Count; n++)
        {
            Assert.True(fragments[n].Length <= MaxMessage, $"fragment {n + 1} has {fragments[n].Length} octets, more than {MaxMessage}");
            var header = Decode(fragments[n]).Header;
            Assert.Equal(exchange, header.Exchange);
            Assert.Equal(response, header.IsResponse);
            Assert.Equal(PayloadType.EncryptedFragment, header.NextPayload);
            var skf = Skf(fragments[n]);
            Assert.Equal(n + 1, skf.FragmentNumber);
            Assert.Equal(fragments.Count, skf.TotalFragments);
            Assert.Equal(n == 0, skf.FirstInner != PayloadType.None);
        }
    }

    private static bool Announces(byte[] initMessage) => Decode(initMessage).GetNotify(NotifyType.IkeFragmentationSupported) is not null;

    [Theory]
    [InlineData(Gcm)]
    [InlineData(Cbc)]
    public void Both_ends_announce_support_and_a_large_IKE_AUTH_goes_as_fragments_both_ways(string proposals)
    {
        var (i, r) = Create(proposals: proposals);
        i.Sa.Initiate();
        var init = Assert.Single(i.Drain());
        Assert.True(Announces(init), "IKE_SA_INIT request without IKEV2_FRAGMENTATION_SUPPORTED");
        var initResponse = Assert.Single(Deliver(r, [init]));
        Assert.True(Announces(initResponse), "IKE_SA_INIT response without IKEV2_FRAGMENTATION_SUPPORTED");
        var auth = Deliver(i, [initResponse]);
        Assert.True(i.Sa.PeerSupportsFragmentation && r.Sa.PeerSupportsFragmentation);
        AssertFragments(auth, ExchangeType.IkeAuth, response: false);

        var authResponse = Deliver(r, auth);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        AssertFragments(authResponse, ExchangeType.IkeAuth, response: true);
        Deliver(i, authResponse);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(1, i.Plane.InstalledCount);
        Assert.Equal(1, r.Plane.InstalledCount);
        Assert.Equal(25, r.Sa.Children.Single().RemoteTs.Count); // the large selector list arrived whole

        var rm = r.Scrape();
        Assert.Equal(auth.Count, rm.Sum("concentrator_ike_fragments_received_total"));
        Assert.Equal(authResponse.Count, rm.Sum("concentrator_ike_fragments_sent_total"));
        Assert.Equal(1, rm.Sum("concentrator_ike_messages_reassembled_total"));
        Assert.Equal(0, rm.Sum("concentrator_ike_fragment_reassembly_bytes"));
        Assert.Equal(0, r.Sa.Context.Reassembly.Held);
        Assert.Equal(0, i.Sa.Context.Reassembly.Held);
    }

    [Theory]
    [InlineData(Gcm)]
    [InlineData(Cbc)]
    public void Fragments_in_any_order_are_reassembled(string proposals)
    {
        var (i, r) = Create(proposals: proposals);
        var auth = ThroughInit(i, r);
        Assert.True(auth.Count >= 3, $"{auth.Count} fragments; the test wants at least 3 to reorder");
        var reordered = new List<byte[]> { auth[^1] };
        reordered.AddRange(auth.Take(auth.Count - 1).Reverse());
        var authResponse = Deliver(r, reordered);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        authResponse.Reverse();
        Deliver(i, authResponse);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
    }

    [Fact]
    public void Duplicate_fragments_are_dropped_and_counted_and_change_nothing()
    {
        var (i, r) = Create();
        var auth = ThroughInit(i, r);
        Assert.Empty(Deliver(r, [auth[0]]));
        int held = r.Sa.TaskManager.FragmentBytesHeld;
        Assert.True(held > 0);
        Assert.Empty(Deliver(r, [auth[0], auth[0]]));
        Assert.Equal(held, r.Sa.TaskManager.FragmentBytesHeld);
        Assert.Equal(2, r.Dropped("fragment_duplicate"));

        var authResponse = Deliver(r, auth.Skip(1));
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Equal(0, r.Sa.TaskManager.FragmentBytesHeld);
        Assert.Equal(1, r.Scrape().Sum("concentrator_ike_messages_reassembled_total"));
        Deliver(i, [authResponse[0], authResponse[0], .. authResponse.Skip(1)]);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(1, i.Dropped("fragment_duplicate"));
    }

    [Theory]
    [InlineData(Gcm)]
    [InlineData(Cbc)]
    public void Forged_fragments_fail_their_integrity_check_and_leave_no_state(string proposals)
    {
        var (i, r) = Create(proposals: proposals);
        var auth = ThroughInit(i, r);

        // A flipped ciphertext octet, and a Total Fragments raised by one (covered by the AAD / ICV: a reset would drop the
        // genuine fragments kept), each before and after a genuine fragment is held.
        var flipped = (byte[])auth[1].Clone();
        flipped[^20] ^= 0x40;
        var moreFragments = (byte[])auth[1].Clone();
        BinaryPrimitives.WriteUInt16BigEndian(moreFragments.AsSpan(ProtocolConstants.IkeHeaderLength + 6), (ushort)(auth.Count + 1));
        Assert.Empty(Deliver(r, [flipped, moreFragments]));
        Assert.Equal(0, r.Sa.TaskManager.FragmentBytesHeld);
        Assert.Empty(Deliver(r, [auth[0]]));
        int held = r.Sa.TaskManager.FragmentBytesHeld;
        Assert.Empty(Deliver(r, [flipped, moreFragments]));
        Assert.Equal(held, r.Sa.TaskManager.FragmentBytesHeld);

        // A thousand forgeries with every number and total up to the bound: nothing beyond the genuine fragment is held.
        var random = new Random(7);
        for (int n = 0; n < 1000; n++)
        {
            var forged = (byte[])auth[n % auth.Count].Clone();
            int total = random.Next(1, WireLimits.MaxFragments + 1);
            BinaryPrimitives.WriteUInt16BigEndian(forged.AsSpan(ProtocolConstants.IkeHeaderLength + 4), (ushort)random.Next(1, total + 1));
            BinaryPrimitives.WriteUInt16BigEndian(forged.AsSpan(ProtocolConstants.IkeHeaderLength + 6), (ushort)total);
            random.NextBytes(forged.AsSpan(ProtocolConstants.IkeHeaderLength + 8));
            Assert.Empty(Deliver(r, [forged]));
            Assert.Equal(held, r.Sa.TaskManager.FragmentBytesHeld);
        }

        double failed = r.Dropped("integrity_check_failed");
        Assert.True(failed >= 4 + 900, $"{failed} integrity failures counted");
        Assert.Equal(0, r.Scrape().Sum("concentrator_ike_messages_reassembled_total"));
        Assert.Equal(IkeSaState.Connecting, r.Sa.State);

        Deliver(i, Deliver(r, auth.Skip(1)));
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
    }

    [Fact]
    public void More_fragments_than_the_bound_are_dropped_before_any_cryptography()
    {
        var (i, r) = Create();
        var auth = ThroughInit(i, r);
        var header = Decode(auth[0]).Header with { NextPayload = PayloadType.None, Length = 0 };
        // Sealed with the initiator's real keys: 256 fragments of one octet each (a 256-octet Vendor ID chain).
        var payloads = new List<Payload> { new VendorIdPayload(new byte[252]) };
        var protector = i.Sa.Protector!;
        int oneOctet = Enumerable.Range(1, 200).First(m => protector.FragmentContentLength(m) == 1);
        var many = protector.SealFragments(header, payloads, oneOctet);
        Assert.Equal(WireLimits.MaxFragments + 1, many.Length);

        Assert.Empty(Deliver(r, many));
        Assert.Equal(many.Length, r.Dropped("too_many_fragments"));
        Assert.Equal(0, r.Dropped("integrity_check_failed"));
        Assert.Equal(0, r.Scrape().Sum("concentrator_ike_fragments_received_total"));
        Assert.Equal(0, r.Sa.TaskManager.FragmentBytesHeld);

        // 255 are within the bound: reassembled into a message that is then judged as any other (an IKE_AUTH of a Vendor ID).
        payloads = [new VendorIdPayload(new byte[251])];
        var bound = protector.SealFragments(header, payloads, oneOctet);
        Assert.Equal(WireLimits.MaxFragments, bound.Length);
        Deliver(r, bound);
        Assert.Equal(1, r.Scrape().Sum("concentrator_ike_messages_reassembled_total"));
    }

    [Fact]
    public void A_message_larger_than_max_packet_is_dropped_whole()
    {
        var (i, r) = Create(responderLimits: ResourceLimits.Default with { MaxPacket = 700 });
        var auth = ThroughInit(i, r);
        // The first two pass 700 octets: all is dropped (strongSwan's reset). Retransmitted, the message starts over and
        // is dropped again at the same point: never more than the bound is held.
        Assert.Empty(Deliver(r, auth.Take(2)));
        Assert.Equal(0, r.Sa.TaskManager.FragmentBytesHeld);
        Assert.Equal(1, r.Sa.Context.Metrics.Limits.Count(ResourceLimit.MaxPacket));
        Assert.Empty(Deliver(r, [auth[2], auth[0]]));
        Assert.InRange(r.Sa.TaskManager.FragmentBytesHeld, 1, 700 + MaxMessage);
        Assert.Empty(Deliver(r, [auth[1]]));
        Assert.Equal(0, r.Sa.TaskManager.FragmentBytesHeld);
        Assert.Equal(2, r.Sa.Context.Metrics.Limits.Count(ResourceLimit.MaxPacket));
        Assert.Equal(0, r.Scrape().Sum("concentrator_ike_messages_reassembled_total"));
        Assert.Equal(IkeSaState.Connecting, r.Sa.State);
    }

    [Theory]
    [InlineData(Gcm)]
    [InlineData(Cbc)]
    public void Padding_never_lets_a_peer_hold_more_than_max_packet_and_its_first_fragment(string proposals)
    {
        var (i, r) = Create(proposals: proposals, responderLimits: ResourceLimits.Default with { MaxPacket = 1500 });
        ThroughInit(i, r);
        // Authentic fragments, as any peer past IKE_SA_INIT can seal them: no content and the most padding, 254 of 255.
        var header = new IkeHeader(i.Sa.SpiI, i.Sa.SpiR, PayloadType.None, ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion,
            ExchangeType.IkeAuth, IkeFlags.Initiator, 1, 0);
        var fragments = Enumerable.Range(1, WireLimits.MaxFragments - 1)
            .Select(n => i.Sa.Protector!.SealFragment(header, PayloadType.None, [], (ushort)n, WireLimits.MaxFragments, padLength: 255))
            .ToList();
        Assert.Empty(Deliver(r, fragments));
        Assert.Equal(fragments.Count, r.Scrape().Sum("concentrator_ike_fragments_received_total"));
        Assert.InRange(r.Sa.TaskManager.FragmentBytesHeld, 1, 1500 + fragments[0].Length);
        Assert.Equal(r.Sa.TaskManager.FragmentBytesHeld, r.Sa.Context.Reassembly.Held);
    }

    /// <summary>
    /// Peers that finish IKE_SA_INIT and then hold as many fragments as they may without ever completing IKE_AUTH (half-open
    /// SAs, at most init_limit_half_open of them) must not use up charon.fragment_memory: the next peer's fragmented IKE_AUTH
    /// still gets through.
    /// </summary>
    [Fact]
    public void Half_open_SAs_holding_all_they_may_leave_fragment_memory_for_the_next_peer()
    {
        // The smallest fragment_memory the loader takes with 8 half-open SAs (64k passed before; it is refused now).
        const string Charon = "charon: { init_limit_half_open: 8, fragment_memory: 160000 }";
        var limits = ConcentratorConfig.Parse(Charon, "t.yaml").Charon.ToLimits();
        var attackers = new List<(Side I, Side R)> { Create(responderLimits: limits) };
        var shared = attackers[0].R.Sa.Context;
        while (attackers.Count < 7) attackers.Add(Create(responderContext: shared));
        foreach (var (i, r) in attackers)
        {
            ThroughInit(i, r);
            // Authentic pieces of 255 octets up to max_packet, of a message of 255 fragments that never completes.
            var header = new IkeHeader(i.Sa.SpiI, i.Sa.SpiR, PayloadType.None, ProtocolConstants.MajorVersion, ProtocolConstants.MinorVersion,
                ExchangeType.IkeAuth, IkeFlags.Initiator, 1, 0);
            var fragments = Enumerable.Range(1, limits.MaxPacket / 255)
                .Select(k => i.Sa.Protector!.SealFragment(header, PayloadType.None, new byte[255], (ushort)k, WireLimits.MaxFragments))
                .ToList();
            Assert.Empty(Deliver(r, fragments));
            Assert.True(r.Sa.TaskManager.FragmentBytesHeld > 0);
        }

        var (ni, nr) = Create(responderContext: shared);
        Deliver(ni, Deliver(nr, ThroughInit(ni, nr)));
        Assert.True(nr.Sa.State == IkeSaState.Established, $"the next peer's IKE_AUTH was not reassembled: {shared.Reassembly.Held} of " +
            $"{limits.FragmentMemory} octets held by 7 half-open SAs, {shared.Metrics.Limits.Count(ResourceLimit.FragmentMemory)} fragments refused");
        Assert.Equal(IkeSaState.Established, ni.Sa.State);
    }

    [Fact]
    public void Node_wide_fragment_memory_bounds_what_is_held_and_is_given_back_when_the_SA_ends()
    {
        var (i, r) = Create(responderLimits: ResourceLimits.Default with { FragmentMemory = 1200 });
        var auth = ThroughInit(i, r);
        Assert.Empty(Deliver(r, auth));
        long held = r.Sa.Context.Reassembly.Held;
        Assert.True(held is > 0 and <= 1200, $"{held} octets held");
        Assert.Equal(held, r.Sa.TaskManager.FragmentBytesHeld);
        Assert.Equal(held, r.Scrape().Sum("concentrator_ike_fragment_reassembly_bytes"));
        Assert.True(r.Sa.Context.Metrics.Limits.Count(ResourceLimit.FragmentMemory) >= 1);
        Assert.Equal(IkeSaState.Connecting, r.Sa.State);

        r.Sa.Dispose();
        Assert.Equal(0, r.Sa.Context.Reassembly.Held);
        Assert.Equal(0, r.Scrape().Sum("concentrator_ike_fragment_reassembly_bytes"));
    }

    [Fact]
    public void A_retransmitted_request_resends_the_same_fragments()
    {
        var (i, r) = Create();
        var auth = ThroughInit(i, r);
        i.Sa.OnRetransmitTimer();
        var again = i.Drain();
        Assert.Equal(auth, again);
        Assert.Equal(2 * auth.Count, i.Scrape().Sum("concentrator_ike_fragments_sent_total"));
        Deliver(i, Deliver(r, again));
        Assert.Equal(IkeSaState.Established, i.Sa.State);
    }

    [Fact]
    public void A_retransmitted_first_fragment_gets_every_fragment_of_the_cached_response_and_the_others_nothing()
    {
        var (i, r) = Create();
        var auth = ThroughInit(i, r);
        var authResponse = Deliver(r, auth);
        Assert.Equal(IkeSaState.Established, r.Sa.State);
        AssertFragments(authResponse, ExchangeType.IkeAuth, response: true);

        Assert.Empty(Deliver(r, auth.Skip(1)));
        Assert.Equal(authResponse, Deliver(r, [auth[0]]));
        Assert.Equal(authResponse, Deliver(r, auth)); // a whole retransmission: one answer, for the first fragment
        Assert.Single(r.Seen.OfType<ChildSaEstablished>());
        Assert.Equal(0, r.Sa.TaskManager.FragmentBytesHeld);
    }

    [Fact]
    public void A_moved_SA_answers_a_retransmission_with_the_same_fragments_and_keeps_fragmenting()
    {
        var (i, r) = Create();
        var auth = ThroughInit(i, r);
        var authResponse = Deliver(r, auth);
        Deliver(i, authResponse);

        using var snapshot = IkeSaSnapshotter.Snapshot(r.Sa, _ => (0, 0));
        var decoded = IkeSaSnapshotCodec.TryDecode(IkeSaSnapshotCodec.Encode(snapshot), out var copy);
        Assert.Equal(ParseStatus.Ok, decoded);
        Assert.True(copy!.PeerSupportsFragmentation);
        var restored = IkeSaSnapshotter.Restore(r.Sa.Context, copy, 1 << 24)!;
        copy.Dispose();
        Assert.True(restored.PeerSupportsFragmentation);
        restored.DrainEffects();
        restored.HandleDatagram(auth[0], InitiatorEp, ResponderEp, viaNatT: false);
        Assert.Equal(authResponse, restored.DrainEffects().OfType<SendMessage>().Select(s => s.Datagram).ToList());
        restored.Dispose();
    }

    [Fact]
    public void Accept_announces_support_but_never_sends_fragments()
    {
        var (i, r) = Create(initiator: "accept");
        i.Sa.Initiate();
        var init = Assert.Single(i.Drain());
        Assert.True(Announces(init));
        var auth = Assert.Single(Deliver(i, Deliver(r, [init])));
        Assert.True(auth.Length > MaxMessage);
        var authResponse = Deliver(r, [auth]);
        AssertFragments(authResponse, ExchangeType.IkeAuth, response: true);
        Deliver(i, authResponse);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
    }

    [Fact]
    public void No_announces_nothing_so_the_peer_does_not_fragment_and_a_responder_with_no_does_not_announce()
    {
        var (i, r) = Create(initiator: "no");
        i.Sa.Initiate();
        var init = Assert.Single(i.Drain());
        Assert.False(Announces(init));
        var initResponse = Assert.Single(Deliver(r, [init]));
        Assert.False(Announces(initResponse)); // RFC 7383 §2.3: only in answer to an initiator that announced
        var auth = Assert.Single(Deliver(i, [initResponse]));
        Assert.Single(Deliver(r, [auth]));
        Assert.Equal(IkeSaState.Established, r.Sa.State);

        var (i2, r2) = Create(responder: "no");
        i2.Sa.Initiate();
        Assert.False(Announces(Assert.Single(Deliver(r2, i2.Drain()))));
    }

    [Fact]
    public void Force_fragments_without_the_peers_announcement_and_fragments_are_accepted_whatever_the_value()
    {
        var (i, r) = Create(initiator: "force", responder: "no");
        var auth = ThroughInit(i, r);
        Assert.False(i.Sa.PeerSupportsFragmentation);
        AssertFragments(auth, ExchangeType.IkeAuth, response: false);
        var authResponse = Assert.Single(Deliver(r, auth)); // reassembled though "no"; answered whole
        Deliver(i, [authResponse]);
        Assert.Equal(IkeSaState.Established, i.Sa.State);
    }

    [Fact]
    public void A_message_that_fits_is_never_fragmented()
    {
        var (i, r) = Create(tunables: IkeTunables.Default, prefixes: 20);
        var auth = Assert.Single(ThroughInit(i, r));
        Assert.Equal(PayloadType.Encrypted, Decode(auth).Header.NextPayload);
        Deliver(i, Deliver(r, [auth]));
        Assert.Equal(IkeSaState.Established, i.Sa.State);
        Assert.Equal(0, i.Scrape().Sum("concentrator_ike_fragments_sent_total"));
    }
}

using System.Net;
using Concentrator.Cluster.Replication;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;
using Concentrator.Testbed.Support;
using Concentrator.Tests.Ike.Sa;
using Xunit.Abstractions;

namespace Concentrator.Tests.Cluster.Replication;

/// <summary><see cref="IkeSaSnapshotCodec"/>: exact round trips, and untrusted bytes never throw.</summary>
public sealed class IkeSaSnapshotCodecTests(ITestOutputHelper output)
{
    [Fact]
    public void A_snapshot_with_every_field_set_round_trips_exactly()
    {
        using var original = Synthetic();
        var encoded = IkeSaSnapshotCodec.Encode(original);
        Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded, out var decoded));
        using (decoded)
        {
            AssertSame(original, decoded!);
            Assert.Equal(encoded, IkeSaSnapshotCodec.Encode(decoded!));
        }
    }

    [Fact]
    public void Snapshots_of_real_established_and_half_open_sas_round_trip_and_stay_compact()
    {
        var (i, r) = RekeyHarness.Established();
        i.Sa.SendDpd();
        RekeyHarness.Pump(i, r);
        foreach (var side in new[] { i, r })
        {
            using var snapshot = IkeSaSnapshotter.Snapshot(side.Sa, _ => (41, 7));
            var encoded = IkeSaSnapshotCodec.Encode(snapshot);
            Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(encoded, out var decoded));
            using (decoded) AssertSame(snapshot, decoded!);
            Assert.Equal(side == r, snapshot.LastResponse is not null);
            // One IKE SA with one child (AES-GCM, IPv4, a cached DPD answer): a few hundred bytes.
            output.WriteLine($"{(side == i ? "initiator" : "responder")}, established, one child: {encoded.Length} bytes");
            Assert.InRange(encoded.Length, 200, 700);
        }

        var (hi, hr) = NewHalfOpen();
        using var halfOpen = IkeSaSnapshotter.Snapshot(hr.Sa, _ => (0, 0));
        Assert.Equal(IkeSaState.Connecting, halfOpen.State);
        Assert.NotEmpty(halfOpen.NonceI);
        Assert.NotEmpty(halfOpen.InitResponse);
        var bytes = IkeSaSnapshotCodec.Encode(halfOpen);
        output.WriteLine($"half-open responder: {bytes.Length} bytes");
        Assert.Equal(ParseStatus.Ok, IkeSaSnapshotCodec.TryDecode(bytes, out var half));
        using (half) AssertSame(halfOpen, half!);
        hi.Sa.Dispose();
    }

    [Fact]
    public void Every_truncation_of_a_valid_encoding_is_refused()
    {
        using var original = Synthetic();
        var (_, hr) = NewHalfOpen();
        using var halfOpen = IkeSaSnapshotter.Snapshot(hr.Sa, _ => (0, 0));
        foreach (var encoded in new[] { IkeSaSnapshotCodec.Encode(original), IkeSaSnapshotCodec.Encode(halfOpen) })
        {
            for (int length = 0; length < encoded.Length; length++)
            {
                var status = IkeSaSnapshotCodec.TryDecode(encoded.AsSpan(0, length), out var snapshot);
                Assert.NotEqual(ParseStatus.Ok, status);
                Assert.Null(snapshot);
            }

            // One byte too many is refused as well.
            Assert.Equal(ParseStatus.BadLength, IkeSaSnapshotCodec.TryDecode([.. encoded, 0], out _));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(0xFF)]
    public void An_unknown_version_byte_is_refused(byte version)
    {
        using var original = Synthetic();
        var encoded = IkeSaSnapshotCodec.Encode(original);
        encoded[0] = version;
        Assert.Equal(ParseStatus.BadVersion, IkeSaSnapshotCodec.TryDecode(encoded, out var snapshot));
        Assert.Null(snapshot);
    }

    [Fact]
    public void Random_and_mutated_buffers_never_throw_and_what_decodes_restores_or_is_refused_without_throwing()
    {
        using var synthetic = Synthetic();
        var (_, r) = RekeyHarness.Established();
        using var real = IkeSaSnapshotter.Snapshot(r.Sa, _ => (3, 4));
        var (_, hr) = NewHalfOpen();
        using var halfOpen = IkeSaSnapshotter.Snapshot(hr.Sa, _ => (0, 0));
        byte[][] seeds = [IkeSaSnapshotCodec.Encode(synthetic), IkeSaSnapshotCodec.Encode(real), IkeSaSnapshotCodec.Encode(halfOpen)];
        var config = ConcentratorConfig.Parse(TestGateway.ResponderYaml(), "<node-b>");
        var random = new Random(20261127);
        int ok = 0, restored = 0;
        for (int n = 0; n < 4000; n++)
        {
            byte[] buffer;
            var seed = seeds[n % seeds.Length];
            switch (n % 4)
            {
                case 0:
                    buffer = new byte[random.Next(0, 400)];
                    random.NextBytes(buffer);
                    if (buffer.Length > 0) buffer[0] = IkeSaSnapshotCodec.Version;
                    break;
                case 1:
                    buffer = seed.ToArray();
                    for (int flips = random.Next(1, 4); flips > 0; flips--) buffer[random.Next(1, buffer.Length)] = (byte)random.Next(256);
                    break;
                case 2:
                    buffer = seed.ToArray();
                    buffer[random.Next(1, buffer.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                default:
                    int cut = random.Next(1, seed.Length);
                    var tail = new byte[random.Next(0, 40)];
                    random.NextBytes(tail);
                    buffer = [.. seed.AsSpan(0, cut), .. tail];
                    break;
            }

            if (IkeSaSnapshotCodec.TryDecode(buffer, out var snapshot) != ParseStatus.Ok)
            {
                Assert.Null(snapshot);
                continue;
            }

            ok++;
            using (snapshot)
            {
                IkeSaSnapshotCodec.Encode(snapshot!);
                var context = new IkeSaContext { Resolver = new ConfigConnectionResolver(config), DataPlane = new InMemoryDataPlane() };
                var sa = IkeSaSnapshotter.Restore(context, snapshot!, 1000);
                if (sa is null) continue;
                restored++;
                sa.DrainEffects();
                sa.Dispose();
            }
        }

        // Single-bit flips in key bytes, counters and SPIs decode fine: the mutation actually reached the decoder's Ok path.
        Assert.True(ok > 100, $"only {ok} mutants decoded");
        Assert.True(restored > 10, $"only {restored} mutants restored");
    }

    // ---- Helpers ----

    internal static IkeSaSnapshot Synthetic(IkeSaState state = IkeSaState.Connecting, string connection = "", Identity? remoteId = null,
        Identity? eapIdentity = null)
    {
        static byte[] Bytes(int length, byte start) => Enumerable.Range(0, length).Select(x => (byte)(start + x)).ToArray();
        var ts4 = new TrafficSelector(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Parse("10.1.0.0"), IPAddress.Parse("10.1.255.255"));
        var ts6 = new TrafficSelector(TsType.Ipv6AddressRange, 17, 500, 4500, IPAddress.Parse("2001:db8::"), IPAddress.Parse("2001:db8::ffff"));
        return new IkeSaSnapshot
        {
            SpiI = 0x0102_0304_0506_0708,
            SpiR = 0xF1F2_F3F4_F5F6_F7F8,
            IsInitiator = false,
            State = state,
            Connection = connection,
            Candidates = ["rw", "rw-v6", "ünïcode"],
            Local = new IPEndPoint(IPAddress.Parse("2001:db8::1"), 4500),
            Remote = new IPEndPoint(IPAddress.Parse("198.51.100.7"), 61234),
            NatT = true,
            NatDetected = true,
            BehindNat = false,
            PeerSupportsMobike = true,
            RolesSwapped = true,
            StateVersion = 0x1234_5678_9ABC,
            EstablishedUtc = new DateTime(2026, 11, 27, 11, 22, 33, DateTimeKind.Utc).AddTicks(4567),
            LocalId = Identity.Parse("gw.test"),
            RemoteId = remoteId ?? Identity.Parse("198.51.100.7"),
            EapIdentity = eapIdentity,
            LoginMethod = eapIdentity is null ? null : "eap-mschapv2",
            Suite = new IkeSuite(EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.Ecp256),
            Keys = new IkeKeys
            {
                SkD = Bytes(32, 1), SkAi = Bytes(32, 2), SkAr = Bytes(32, 3), SkEi = Bytes(32, 4),
                SkEr = Bytes(32, 5), SkPi = Bytes(32, 6), SkPr = Bytes(32, 7),
            },
            NonceI = Bytes(32, 8),
            NonceR = Bytes(48, 9),
            InitRequest = Bytes(300, 10),
            InitResponse = Bytes(280, 11),
            NextRequestId = 7,
            PeerNextRequestId = 0xFFFF_FFF0,
            LastResponse = new CachedIkeResponse(0xFFFF_FFEF, Bytes(80, 12), Bytes(96, 13)),
            Children =
            [
                new ChildSaSnapshot("lan", 0xC000_0001, 0xD000_0002, new EspSuite(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false),
                    Bytes(36, 14), [], Bytes(36, 15), [], [ts4], [ts4, ts6], EspTransport.UdpEncapsulated, 64,
                    new DateTime(2026, 11, 27, 10, 0, 0, DateTimeKind.Utc), 123_456, 654_321) { Replaced = true, Successor = 0xC000_0003 },
                new ChildSaSnapshot("lan", 0xC000_0003, 0xD000_0004, new EspSuite(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.Curve25519, true),
                    Bytes(16, 16), Bytes(32, 17), Bytes(16, 18), Bytes(32, 19), [ts6], [ts4], EspTransport.RawEsp, 0,
                    DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc), ulong.MaxValue, 0),
            ],
        };
    }

    private static (RekeyHarness.Side I, RekeyHarness.Side R) NewHalfOpen()
    {
        var rConfig = ConcentratorConfig.Parse(TestGateway.ResponderYaml(), "<r>");
        var iConfig = ConcentratorConfig.Parse(TestGateway.InitiatorYaml(), "<i>");
        var i = new RekeyHarness.Side(IkeSa.CreateInitiator(new IkeSaContext { Resolver = new ConfigConnectionResolver(iConfig), DataPlane = new InMemoryDataPlane() },
            iConfig.Connections["site"], 0x5152_5354_5556_5758, RekeyHarness.InitiatorEp, RekeyHarness.ResponderEp), new InMemoryDataPlane(), RekeyHarness.InitiatorEp);
        var r = new RekeyHarness.Side(IkeSa.CreateResponder(new IkeSaContext { Resolver = new ConfigConnectionResolver(rConfig), DataPlane = new InMemoryDataPlane() },
            0x5152_5354_5556_5758, 0x6162_6364_6566_6768, RekeyHarness.ResponderEp, RekeyHarness.InitiatorEp, natT: false), new InMemoryDataPlane(), RekeyHarness.ResponderEp);
        i.Sa.Initiate();
        r.Receive(i.Drain().Single().Datagram, i.Self);
        r.Drain();
        return (i, r);
    }

    /// <summary>Every field, array contents included (records compare arrays by reference).</summary>
    internal static void AssertSame(IkeSaSnapshot expected, IkeSaSnapshot actual)
    {
        Assert.Equal(expected.SpiI, actual.SpiI);
        Assert.Equal(expected.SpiR, actual.SpiR);
        Assert.Equal(expected.IsInitiator, actual.IsInitiator);
        Assert.Equal(expected.OurSpi, actual.OurSpi);
        Assert.Equal(expected.State, actual.State);
        Assert.Equal(expected.Connection, actual.Connection);
        Assert.Equal(expected.Candidates, actual.Candidates);
        Assert.Equal(expected.Local, actual.Local);
        Assert.Equal(expected.Remote, actual.Remote);
        Assert.Equal(expected.NatT, actual.NatT);
        Assert.Equal(expected.NatDetected, actual.NatDetected);
        Assert.Equal(expected.BehindNat, actual.BehindNat);
        Assert.Equal(expected.PeerSupportsMobike, actual.PeerSupportsMobike);
        Assert.Equal(expected.RolesSwapped, actual.RolesSwapped);
        Assert.Equal(expected.StateVersion, actual.StateVersion);
        Assert.Equal(expected.EstablishedUtc, actual.EstablishedUtc);
        Assert.Equal(DateTimeKind.Utc, actual.EstablishedUtc.Kind);
        Assert.Equal(expected.LocalId, actual.LocalId);
        Assert.Equal(expected.LocalId?.Text, actual.LocalId?.Text);
        Assert.Equal(expected.RemoteId, actual.RemoteId);
        Assert.Equal(expected.RemoteId?.Text, actual.RemoteId?.Text);
        Assert.Equal(expected.Suite, actual.Suite);
        Assert.Equal(expected.Keys.SkD, actual.Keys.SkD);
        Assert.Equal(expected.Keys.SkAi, actual.Keys.SkAi);
        Assert.Equal(expected.Keys.SkAr, actual.Keys.SkAr);
        Assert.Equal(expected.Keys.SkEi, actual.Keys.SkEi);
        Assert.Equal(expected.Keys.SkEr, actual.Keys.SkEr);
        Assert.Equal(expected.Keys.SkPi, actual.Keys.SkPi);
        Assert.Equal(expected.Keys.SkPr, actual.Keys.SkPr);
        Assert.Equal(expected.NonceI, actual.NonceI);
        Assert.Equal(expected.NonceR, actual.NonceR);
        Assert.Equal(expected.InitRequest, actual.InitRequest);
        Assert.Equal(expected.InitResponse, actual.InitResponse);
        Assert.Equal(expected.NextRequestId, actual.NextRequestId);
        Assert.Equal(expected.PeerNextRequestId, actual.PeerNextRequestId);
        Assert.Equal(expected.LastResponse is null, actual.LastResponse is null);
        if (expected.LastResponse is { } e)
        {
            Assert.Equal(e.MessageId, actual.LastResponse!.MessageId);
            Assert.Equal(e.Request, actual.LastResponse.Request);
            Assert.Equal(e.Response, actual.LastResponse.Response);
        }

        Assert.Equal(expected.Children.Count, actual.Children.Count);
        for (int n = 0; n < expected.Children.Count; n++)
        {
            var x = expected.Children[n];
            var y = actual.Children[n];
            Assert.Equal(x.Child, y.Child);
            Assert.Equal(x.InboundSpi, y.InboundSpi);
            Assert.Equal(x.OutboundSpi, y.OutboundSpi);
            Assert.Equal(x.Suite, y.Suite);
            Assert.Equal(x.InboundEncryptionKey, y.InboundEncryptionKey);
            Assert.Equal(x.InboundIntegrityKey, y.InboundIntegrityKey);
            Assert.Equal(x.OutboundEncryptionKey, y.OutboundEncryptionKey);
            Assert.Equal(x.OutboundIntegrityKey, y.OutboundIntegrityKey);
            Assert.Equal(x.LocalTs, y.LocalTs);
            Assert.Equal(x.RemoteTs, y.RemoteTs);
            Assert.Equal(x.Transport, y.Transport);
            Assert.Equal(x.ReplayWindow, y.ReplayWindow);
            Assert.Equal(x.CreatedUtc, y.CreatedUtc);
            Assert.Equal(x.OutboundSequenceMark, y.OutboundSequenceMark);
            Assert.Equal(x.InboundSequenceFloor, y.InboundSequenceFloor);
            Assert.Equal(x.Replaced, y.Replaced);
            Assert.Equal(x.Successor, y.Successor);
        }
    }
}

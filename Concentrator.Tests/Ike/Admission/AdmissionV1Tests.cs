using System.Net;
using Concentrator.Ike.Admission;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using Concentrator.Telemetry;
using Concentrator.Tests.Hosting;
using Concentrator.Tests.Telemetry;

namespace Concentrator.Tests.Ike.Admission;

/// <summary>
/// IKEv1's first message creates responder state like IKE_SA_INIT: hostile ones (garbage, truncated, too many payloads,
/// no SA payload) are counted and dropped before any state, and the half-open and per-source limits hold.
/// </summary>
public sealed class AdmissionV1Tests
{
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("198.51.100.9"), 500);

    [Fact]
    public void Only_a_cleartext_main_or_aggressive_mode_message_without_a_responder_cookie_is_a_first_message()
    {
        IsakmpHeader H(V1ExchangeType x, ulong r = 0, uint mid = 0, V1Flags f = V1Flags.None) => new(1, r, V1PayloadType.SecurityAssociation, 1, 0, x, f, mid, 0);
        Assert.True(AdmissionPolicy.IsInitialV1(H(V1ExchangeType.IdentityProtection)));
        Assert.True(AdmissionPolicy.IsInitialV1(H(V1ExchangeType.Aggressive)));
        Assert.False(AdmissionPolicy.IsInitialV1(H(V1ExchangeType.IdentityProtection, r: 5)));
        Assert.False(AdmissionPolicy.IsInitialV1(H(V1ExchangeType.IdentityProtection, mid: 5)));
        Assert.False(AdmissionPolicy.IsInitialV1(H(V1ExchangeType.IdentityProtection, f: V1Flags.Encryption)));
        Assert.False(AdmissionPolicy.IsInitialV1(H(V1ExchangeType.QuickMode)));
        Assert.False(AdmissionPolicy.IsInitialV1(H(V1ExchangeType.Informational)));
    }

    [Fact]
    public async Task Hostile_first_messages_are_counted_and_dropped_before_any_state()
    {
        var metrics = new ConcentratorMetrics();
        var policy = new AdmissionPolicy(new AdmissionOptions(), ResourceLimits.Default with { MaxPayloads = 8 }, metrics);
        var good = IkeIngressV1Tests.MainMode1();

        var truncated = good[..^3];
        var garbage = good.ToArray();
        for (int k = V1Constants.HeaderLength; k < garbage.Length; k++) garbage[k] = 0xA5;
        var vid = new V1DataPayload(V1PayloadType.VendorId, [1, 2, 3]);
        var many = IsakmpCodec.Encode(new IsakmpHeader(9, 0, V1PayloadType.None, 1, 0, V1ExchangeType.IdentityProtection, V1Flags.None, 0, 0),
            Enumerable.Repeat<V1Payload>(vid, 50).ToList());
        var noSa = IsakmpCodec.Encode(new IsakmpHeader(9, 0, V1PayloadType.None, 1, 0, V1ExchangeType.IdentityProtection, V1Flags.None, 0, 0), [vid]);

        foreach (var bad in new[] { truncated, garbage, many, noSa })
        {
            Assert.Equal(AdmissionVerdict.Drop, policy.DecideV1(bad, Peer, halfOpen: 0, nowMs: 0).Verdict);
        }
        Assert.Equal(0, policy.Quota.Count);
        var m = new MetricsText(await MetricsEndpointTests.ExportAsync(metrics.Registry));
        Assert.Equal(1, m.Sum("concentrator_ike_malformed_messages_total", ("reason", "too_many_payloads")));
        Assert.Equal(1, m.Sum("concentrator_ike_messages_dropped_total", ("reason", "bad_payload_sequence")));
        Assert.True(m.Sum("concentrator_ike_malformed_messages_total") >= 3);
        Assert.Equal(AdmissionVerdict.Admit, policy.DecideV1(good, Peer, halfOpen: 0, nowMs: 0).Verdict);
    }

    [Fact]
    public async Task The_half_open_limit_and_the_per_source_threshold_hold_for_ikev1()
    {
        var metrics = new ConcentratorMetrics();
        var options = new AdmissionOptions { MaxHalfOpen = 3 };
        var policy = new AdmissionPolicy(options, ResourceLimits.Default, metrics);
        var first = IkeIngressV1Tests.MainMode1();

        Assert.Equal(AdmissionVerdict.Drop, policy.DecideV1(first, Peer, halfOpen: 3, nowMs: 0).Verdict);
        Assert.Equal(AdmissionVerdict.Admit, policy.DecideV1(first, Peer, halfOpen: 2, nowMs: 0).Verdict);
        for (int k = 0; k < options.BlockThreshold; k++) policy.Sources.AddHalfOpen(Peer.Address, proven: false);
        Assert.Equal(AdmissionVerdict.Drop, policy.DecideV1(first, Peer, halfOpen: 0, nowMs: 0).Verdict);

        var m = new MetricsText(await MetricsEndpointTests.ExportAsync(metrics.Registry));
        Assert.Equal(1, m.Sum("concentrator_ike_messages_dropped_total", ("reason", "half_open_limit")));
        Assert.Equal(1, m.Sum("concentrator_ike_messages_dropped_total", ("reason", "per_source_limit")));
    }
}

using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// The Vendor IDs (RFC 2408 §3.16) we send and recognise, in one table (strongSwan's isakmp_vendor). NAT-T: RFC 3947
/// and the drafts charon still announces (MD5 of the draft's name; "-02\n" with the newline some implementations
/// hashed). A peer's NAT-T VIDs pick the version (the newest both know); the others set <see cref="V1PeerFeatures"/>.
/// </summary>
public static partial class V1VendorIds
{
    /// <summary>MD5("RFC 3947").</summary>
    public static readonly byte[] NatTRfc3947 = Convert.FromHexString("4a131c81070358455c5728f20e95452f");
    /// <summary>MD5("draft-ietf-ipsec-nat-t-ike-03").</summary>
    public static readonly byte[] NatTDraft03 = Convert.FromHexString("7d9419a65310ca6f2c179d9215529d56");
    /// <summary>MD5("draft-ietf-ipsec-nat-t-ike-02\n").</summary>
    public static readonly byte[] NatTDraft02N = Convert.FromHexString("90cb80913ebb696e086381b5ec427b1f");
    /// <summary>MD5("draft-ietf-ipsec-nat-t-ike-02").</summary>
    public static readonly byte[] NatTDraft02 = Convert.FromHexString("cd60464335df21f87cfdb2fc68b6a448");
    /// <summary>RFC 3706 §4: DPD, version 1.0.</summary>
    public static readonly byte[] Dpd = Convert.FromHexString("afcad71368a1f1c96b8696fc77570100");
    /// <summary>draft-beaulieu-ike-xauth: XAUTH.</summary>
    public static readonly byte[] Xauth = Convert.FromHexString("09002689dfd6b712");
    /// <summary>Cisco Unity.</summary>
    public static readonly byte[] Unity = Convert.FromHexString("12f5f28c457168a9702d9fe274cc0100");
    /// <summary>IKE fragmentation (Cisco/strongSwan, without the capability octets it may carry).</summary>
    public static readonly byte[] FragmentationPrefix = Convert.FromHexString("4048b7d56ebce88525e7de7f00d6c2d3");

    /// <summary>The NAT-T VIDs we announce as initiator, newest first.</summary>
    private static readonly (NatTVersion Version, byte[] Id)[] NatT =
    [
        (NatTVersion.Rfc3947, NatTRfc3947),
        (NatTVersion.Draft03, NatTDraft03),
        (NatTVersion.Draft02N, NatTDraft02N),
        (NatTVersion.Draft02, NatTDraft02),
    ];

    /// <summary>Initiator's message 1: every NAT-T version, and what the hooks announce.</summary>
    public static void AddInitiator(IkeV1Sa sa, List<V1Payload> payloads)
    {
        foreach (var (_, id) in NatT) payloads.Add(new V1DataPayload(V1PayloadType.VendorId, id));
        AddFeatures(sa, payloads);
    }

    /// <summary>Responder's message 2: the NAT-T version chosen from the peer's (none when it sent none), and the hooks'.</summary>
    public static void AddResponder(IkeV1Sa sa, List<V1Payload> payloads)
    {
        foreach (var (version, id) in NatT)
        {
            if (version == sa.NatTVersion) payloads.Add(new V1DataPayload(V1PayloadType.VendorId, id));
        }
        AddFeatures(sa, payloads);
    }

    /// <summary>Reads the peer's VIDs: the newest NAT-T version both know (we know all), and the features.</summary>
    public static void Process(IkeV1Sa sa, IEnumerable<V1Payload> payloads)
    {
        var best = NatTVersion.None;
        foreach (var p in payloads)
        {
            if (p is not V1DataPayload { Type: V1PayloadType.VendorId } vid) continue;
            var data = vid.Data.AsSpan();
            foreach (var (version, id) in NatT)
            {
                if (data.SequenceEqual(id) && version > best) best = version;
            }
            if (data.SequenceEqual(Dpd)) sa.PeerFeatures |= V1PeerFeatures.Dpd;
            else if (data.SequenceEqual(Xauth)) sa.PeerFeatures |= V1PeerFeatures.Xauth;
            else if (data.SequenceEqual(Unity)) sa.PeerFeatures |= V1PeerFeatures.Unity;
            else if (data.StartsWith(FragmentationPrefix)) sa.PeerFeatures |= V1PeerFeatures.Fragmentation;
        }
        sa.NatTVersion = best;
    }

    private static void AddFeatures(IkeV1Sa sa, List<V1Payload> payloads)
    {
        bool dpd = false, xauth = false;
        AnnounceDpd(sa, ref dpd);
        AnnounceXauth(sa, ref xauth);
        if (dpd) payloads.Add(new V1DataPayload(V1PayloadType.VendorId, Dpd));
        if (xauth) payloads.Add(new V1DataPayload(V1PayloadType.VendorId, Xauth));
    }

    /// <summary>v1info: announce DPD (RFC 3706) once R-U-THERE is answered.</summary>
    static partial void AnnounceDpd(IkeV1Sa sa, ref bool announce);

    /// <summary>v1ra: announce XAUTH.</summary>
    static partial void AnnounceXauth(IkeV1Sa sa, ref bool announce);
}

using Concentrator.DataPlane;
using Concentrator.Ipsec;
using static Concentrator.Tests.DataPlane.Linux.TestPackets;

namespace Concentrator.Tests.DataPlane;

/// <summary>The inbound check of RFC 4301 §5.2 on a decrypted packet against one SA's selectors.</summary>
public class SelectorMatchTests
{
    [Fact]
    public void InboundCheckUsesSourceOrDestination()
    {
        IReadOnlyList<TrafficSelector> remoteTs = [Ts("10.20.0.0/24", protocol: 17, startPort: 0, endPort: 65535)];
        IReadOnlyList<TrafficSelector> localTs = List("10.10.0.0/24");
        byte[] fromPeer = Ip("10.20.0.5", "10.10.0.7");
        byte[] spoofed = Ip("10.21.0.5", "10.10.0.7");

        Assert.True(SelectorMatch.Matches(remoteTs, fromPeer, useSource: true));
        Assert.True(SelectorMatch.Matches(localTs, fromPeer, useSource: false));
        Assert.False(SelectorMatch.Matches(remoteTs, spoofed, useSource: true));
        Assert.False(SelectorMatch.Matches(remoteTs, Ip("10.20.0.5", "10.10.0.7", protocol: 6), useSource: true));
        Assert.False(SelectorMatch.Matches(remoteTs, fromPeer, useSource: false));

        var remote = new SelectorMatcher(remoteTs);
        var local = new SelectorMatcher(localTs);
        Assert.True(SelectorMatcher.InboundAllowed(remote, local, fromPeer));
        Assert.False(SelectorMatcher.InboundAllowed(remote, local, spoofed));
        Assert.False(SelectorMatcher.InboundAllowed(remote, local, Ip("10.20.0.5", "10.10.1.7")));
    }
}

using Concentrator.Ike.Sa;
using Concentrator.Ike.Sa.V1;
using static Concentrator.Tests.Ike.Sa.V1.V1PairHarness;

namespace Concentrator.Tests.Ike.Sa.V1;

/// <summary>
/// Peer input is hostile at every step: each of the six main mode messages with each single octet changed (a sample of
/// positions, every one of the header and the first payload headers) never throws on either side, and never leaves
/// one end established while the other is not with keys that differ.
/// </summary>
public sealed class MainModeInputSweepTests
{
    private const string Suite = "aes128-sha256-ecp256";

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void Every_changed_octet_of_a_message_is_survived(int which)
    {
        int length = LengthOf(which);
        var positions = Enumerable.Range(0, Math.Min(length, 48)).Concat(Enumerable.Range(48, Math.Max(0, length - 48)).Where(p => p % 7 == 0));
        foreach (int position in positions)
        {
            foreach (byte xor in new byte[] { 0x01, 0x80, 0xFF })
            {
                int seen = 0;
                var (i, r) = Handshake(Initiator(Suite), Responder(Suite), tamper: (_, send) =>
                {
                    if (++seen != which || position >= send.Datagram.Length) return send;
                    var bytes = send.Datagram.ToArray();
                    bytes[position] ^= xor;
                    return send with { Datagram = bytes };
                });
                if (i.Sa.State == V1Phase1State.Established && r.Sa.State == V1Phase1State.Established)
                {
                    Assert.Equal(i.Sa.SkeyidA, r.Sa.SkeyidA);
                }
                Assert.True(i.Seen.OfType<IkeSaEstablished>().Count() <= 1 && r.Seen.OfType<IkeSaEstablished>().Count() <= 1);
                i.Sa.Dispose();
                r.Sa.Dispose();
            }
        }
    }

    private static int LengthOf(int which)
    {
        int seen = 0, length = 0;
        var (i, r) = Handshake(Initiator(Suite), Responder(Suite), tamper: (_, send) =>
        {
            if (++seen == which) length = send.Datagram.Length;
            return send;
        });
        i.Sa.Dispose();
        r.Sa.Dispose();
        return length;
    }
}

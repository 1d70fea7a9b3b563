using System.Globalization;
using System.Text;
using Concentrator.Testbed.Cluster;

namespace Concentrator.Tests.Cluster;

/// <summary>The failover tests' measurements from <c>ping -D -O</c> output: losses, and a moved tunnel's interruption.</summary>
public sealed class TunnelProbeTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>ping's output for requests every 20 ms from t0: answered ones after <paramref name="rtt"/>, the others reported
    /// "no answer yet" when the next request goes out.</summary>
    private static string PingText(double t0, int count, Func<int, bool> answered, double rtt = 0.001)
    {
        var sb = new StringBuilder("PING 10.96.0.1 (10.96.0.1) from 10.90.1.1 : 56(84) bytes of data.\n");
        for (int seq = 1; seq <= count; seq++)
        {
            double sentAt = t0 + (seq - 1) * 0.02;
            if (answered(seq))
                sb.Append(CultureInfo.InvariantCulture, $"[{sentAt + rtt:F6}] 64 bytes from 10.96.0.1: icmp_seq={seq} ttl=64 time=1.00 ms\n");
            else if (seq < count)
                sb.Append(CultureInfo.InvariantCulture, $"[{sentAt + 0.02:F6}] no answer yet for icmp_seq={seq}\n");
        }
        return sb.ToString();
    }

    [Fact]
    public void Requests_without_replies_are_lost_and_late_replies_are_not()
    {
        // 3 is answered late (after 4 went out), 4 and 5 never.
        string text = PingText(1000, 10, seq => seq is not (3 or 4 or 5)) +
                      "[1000.070000] 64 bytes from 10.96.0.1: icmp_seq=3 ttl=64 time=30 ms\n";
        var probes = TunnelProbe.Parse(text, Interval);

        Assert.Equal(10, probes.Count);
        Assert.Equal(2, TunnelProbe.LostBetween(probes, 0, 2000));
        Assert.Equal([4, 5], probes.Where(p => p.RepliedAt is null).Select(p => p.Seq));
        Assert.Equal(1000.04, probes.Single(p => p.Seq == 3).SentAt, 3);
        // Requests 3 (answered late) and 4 (lost) were sent within 1000.035 .. 1000.065.
        Assert.Equal(1, TunnelProbe.LostBetween(probes, 1000.035, 1000.065));
        Assert.Equal(2, TunnelProbe.SentBetween(probes, 1000.035, 1000.065));
    }

    [Fact]
    public void Interruption_runs_from_the_last_reply_before_the_death_to_the_first_answer_to_a_later_request()
    {
        // Requests 1..200 every 20 ms from t=1000; 26..100 unanswered (node dead from 1000.50), answers again from 101 (sent 1002.00).
        string text = PingText(1000, 200, seq => seq is < 26 or > 100);
        var probes = TunnelProbe.Parse(text, Interval);

        double? gap = TunnelProbe.InterruptionAfter(probes, deadAt: 1000.50, until: 1004);

        Assert.NotNull(gap);
        Assert.Equal(1002.001 - 1000.481, gap!.Value, 3);
        Assert.Equal(75, TunnelProbe.LostBetween(probes, 1000, 1003));
    }

    [Fact]
    public void Replies_to_requests_sent_before_the_death_do_not_end_the_interruption()
    {
        // Request 25 (sent 1000.48) is answered 15 ms later, after the death at 1000.49 (in flight); nothing later is answered.
        string text = PingText(1000, 200, seq => seq < 26, rtt: 0.015);
        var probes = TunnelProbe.Parse(text, Interval);

        Assert.Null(TunnelProbe.InterruptionAfter(probes, deadAt: 1000.49, until: 1004));
        Assert.Equal(174, TunnelProbe.LostBetween(probes, 0, 2000));
    }

    [Fact]
    public void A_later_longer_gap_is_the_interruption()
    {
        // Back after 0.3 s, then a 1 s hole (e.g. the SA moving again) before the end of the window.
        string text = PingText(1000, 300, seq => seq is < 26 or (> 40 and < 100) or > 150);
        var probes = TunnelProbe.Parse(text, Interval);

        double? gap = TunnelProbe.InterruptionAfter(probes, deadAt: 1000.50, until: 1006);

        Assert.Equal(1003.001 - 1001.961, gap!.Value, 3);
    }
}

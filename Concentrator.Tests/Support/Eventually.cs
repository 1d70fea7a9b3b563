using System.Diagnostics;

namespace Concentrator.Tests.Support;

/// <summary>Bounded polling for asynchronous outcomes; fails with the message when time runs out.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string because, double seconds = 15)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds) Assert.Fail($"timed out after {seconds} s waiting until {because}");
            await Task.Delay(20);
        }
    }

    public static async Task TrueAsync(Func<Task<bool>> condition, string because, double seconds = 15)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds) Assert.Fail($"timed out after {seconds} s waiting until {because}");
            await Task.Delay(20);
        }
    }
}

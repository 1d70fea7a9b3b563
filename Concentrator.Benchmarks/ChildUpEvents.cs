using System.Collections.Concurrent;
using Concentrator.Testbed.Interop;

namespace Concentrator.Benchmarks;

/// <summary>
/// charon's child-updown events with up = yes (a Child SA installed), read from its vici socket in the background: how
/// many so far, and when each IKE SA (by connection name) first had one.
/// </summary>
public sealed class ChildUpEvents : IAsyncDisposable
{
    private readonly ViciClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private int _count;

    private ChildUpEvents(ViciClient client)
    {
        _client = client;
        _reader = Task.Run(ReadAsync);
    }

    public static async Task<ChildUpEvents> StartAsync(string viciSocket)
    {
        var client = await ViciClient.ConnectAsync(viciSocket);
        try
        {
            await client.RegisterAsync("child-updown");
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
        return new ChildUpEvents(client);
    }

    /// <summary>Child SAs installed since the subscription.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The first Child SA up per connection name since the last <c>Clear</c>.</summary>
    public ConcurrentDictionary<string, DateTimeOffset> FirstUp { get; } = new();

    private async Task ReadAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var (name, sections, values) = await _client.ReadEventAsync(_stop.Token);
                if (name != "child-updown" || values.GetValueOrDefault("up") != "yes") continue;
                var now = DateTimeOffset.UtcNow;
                Interlocked.Increment(ref _count);
                if (sections.Count > 0) FirstUp.TryAdd(sections[0], now);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or EndOfStreamException)
        {
            // The reader ends with its connection (or charon).
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _client.DisposeAsync();
        await _reader;
        _stop.Dispose();
    }
}

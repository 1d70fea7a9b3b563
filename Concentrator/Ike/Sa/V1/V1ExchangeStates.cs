namespace Concentrator.Ike.Sa.V1;

/// <summary>
/// The state of the exchanges in progress on a phase 1 SA after it is established, by message ID (quick mode,
/// informational, transaction): handlers are stateless singletons and keep theirs here. Bounded: beyond
/// <see cref="MaxExchanges"/> the oldest is forgotten (its handler sees no state and drops the message), so a peer
/// opening exchanges keeps no more state than that.
/// </summary>
public sealed class V1ExchangeStates
{
    public const int MaxExchanges = 16;

    private readonly Dictionary<uint, object> _states = [];
    private readonly List<uint> _order = [];

    public int Count => _states.Count;

    public bool TryGet<T>(uint messageId, out T state) where T : class
    {
        if (_states.TryGetValue(messageId, out var s) && s is T t)
        {
            state = t;
            return true;
        }
        state = null!;
        return false;
    }

    public void Set(uint messageId, object state)
    {
        if (!_states.ContainsKey(messageId))
        {
            while (_order.Count >= MaxExchanges) Remove(_order[0]);
            _order.Add(messageId);
        }
        _states[messageId] = state;
    }

    public void Remove(uint messageId)
    {
        if (_states.Remove(messageId, out var s)) (s as IDisposable)?.Dispose();
        _order.Remove(messageId);
    }

    public bool Contains(uint messageId) => _states.ContainsKey(messageId);

    internal void Clear()
    {
        foreach (var s in _states.Values) (s as IDisposable)?.Dispose();
        _states.Clear();
        _order.Clear();
    }
}

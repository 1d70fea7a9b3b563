using Concentrator.Ike.Connections;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Tasks.V1;

/// <summary>
/// Handles every message of one ISAKMP exchange type on an <see cref="IkeV1Sa"/> (after strongSwan's sa/ikev1/tasks).
/// Handlers are stateless singletons; per-exchange state lives in <see cref="IkeV1Sa.Exchanges"/> (by message ID) or
/// in <see cref="IkeV1Sa.Phase1"/>.
/// </summary>
/// <remarks>
/// The contract, for every exchange after phase 1 (quick mode 32, informational 5, transaction 6; message ID non-zero,
/// its IV per message ID through <see cref="IkeV1Sa.Protector"/>):
/// <list type="number">
/// <item>The SA decrypted the message (no IV moved) and parsed its chain: <see cref="V1Received.Payloads"/>; a message
/// that did not decrypt to a valid chain went to <see cref="Undecryptable"/> instead.</item>
/// <item>The handler checks the first payload is HASH and verifies it (<see cref="V1Hashes"/>: HASH(1)/(2)/(3) of
/// RFC 2409 §5.5, the informational HASH of §5.7 over <see cref="V1Received.AfterHash"/>); on failure it counts, drops
/// and returns, leaving the SA as it was.</item>
/// <item>On success it calls <see cref="IkeV1Sa.CommitReceived"/> (the exchange's IV moves, the message ID is used).</item>
/// <item>It answers with <see cref="IkeV1Sa.Send"/> (encrypt: true, the same message ID); a reply sent while handling
/// is what the SA resends when the same request arrives again. A message we start is sent with request: true and
/// retransmitted until <see cref="IkeV1Sa.CancelRequest(uint)"/> (several exchanges may wait at once). It ends the exchange with
/// <see cref="Sa.V1.V1ExchangeStates.Remove"/> and <c>Protector.EndExchange</c>.</item>
/// </list>
/// Phase 1 exchanges (main mode 2, aggressive mode 4) have message ID 0 and run while <see cref="IkeV1Sa.State"/> is
/// before Established; they implement <see cref="IV1Phase1Exchange"/> too. Cleartext informational messages during phase
/// 1 (a peer's error notify) go to <see cref="V1Phase1Notify"/>, never to the informational handler.
/// </remarks>
public interface IV1ExchangeHandler
{
    V1ExchangeType Exchange { get; }

    void Handle(IkeV1Sa sa, V1Received message);

    /// <summary>An encrypted message of this exchange did not decrypt to a valid chain (a wrong key, or garbage): counted here.</summary>
    void Undecryptable(IkeV1Sa sa, V1Inbound inbound) => sa.Context.Metrics.CountDrop(Ipsec.IkeDropReason.IntegrityCheckFailed);
}

/// <summary>A phase 1 exchange (main mode, aggressive mode) that can start an initiator.</summary>
public interface IV1Phase1Exchange : IV1ExchangeHandler
{
    void Initiate(IkeV1Sa sa);
}

/// <summary>The informational handler's way to tell the peer an established SA is deleted (ISAKMP Delete, RFC 2408 §3.15).</summary>
public interface IV1Deleter
{
    void SendDelete(IkeV1Sa sa);
}

/// <summary>
/// The one table of exchange handlers. Main mode is registered here; the others register themselves from their own
/// files by implementing their partial method (a partial method without an implementation leaves its slot empty, and a
/// message of that exchange type is counted and dropped):
/// <code>
/// public static partial class V1Exchanges { static partial void AddQuickMode(Registry r) => r.Add(new QuickMode()); }
/// </code>
/// </summary>
public static partial class V1Exchanges
{
    private static readonly Dictionary<V1ExchangeType, IV1ExchangeHandler> Handlers = Build();

    /// <summary>The handler of a received message: a cleartext informational (only legal during phase 1) goes to
    /// <see cref="V1Phase1Notify"/>, everything else to its exchange's handler; null when none is registered.</summary>
    public static IV1ExchangeHandler? Find(V1ExchangeType exchange, bool encrypted = true) =>
        exchange == V1ExchangeType.Informational && !encrypted ? V1Phase1Notify.Instance : Handlers.GetValueOrDefault(exchange);

    /// <summary>The phase 1 exchange an initiator of <paramref name="connection"/> runs: aggressive mode when the connection asks for it
    /// and it is registered, main mode otherwise.</summary>
    public static IV1Phase1Exchange Phase1For(ConnectionConfig connection)
    {
        IV1Phase1Exchange? chosen = null;
        ChoosePhase1(connection, ref chosen);
        return chosen ?? MainMode.Instance;
    }

    /// <summary>v1auth: aggressive mode for connections with <c>aggressive: yes</c>.</summary>
    static partial void ChoosePhase1(ConnectionConfig connection, ref IV1Phase1Exchange? chosen);

    /// <summary>v1auth: aggressive mode (exchange 4).</summary>
    static partial void AddAggressiveMode(Registry registry);

    /// <summary>v1quick: quick mode (exchange 32).</summary>
    static partial void AddQuickMode(Registry registry);

    /// <summary>v1info: informational (exchange 5) after phase 1 — Delete, INITIAL-CONTACT, DPD; implements <see cref="IV1Deleter"/>.</summary>
    static partial void AddInformational(Registry registry);

    /// <summary>v1ra: transaction (exchange 6) — XAUTH and Mode Config.</summary>
    static partial void AddTransaction(Registry registry);

    private static Dictionary<V1ExchangeType, IV1ExchangeHandler> Build()
    {
        var registry = new Registry();
        registry.Add(MainMode.Instance);
        AddAggressiveMode(registry);
        AddQuickMode(registry);
        AddInformational(registry);
        AddTransaction(registry);
        return registry.Map;
    }

    public sealed class Registry
    {
        internal Dictionary<V1ExchangeType, IV1ExchangeHandler> Map { get; } = [];

        public void Add(IV1ExchangeHandler handler)
        {
            if (!Map.TryAdd(handler.Exchange, handler)) throw new InvalidOperationException($"Two handlers for IKEv1 exchange {handler.Exchange}.");
        }
    }
}

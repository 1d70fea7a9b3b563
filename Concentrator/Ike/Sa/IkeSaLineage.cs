using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Sa;

/// <summary>
/// One tunnel's IKE SAs as a host keeps them: the current SA and the SAs it replaced by IKE rekeys (RFC 7296 §2.18)
/// or that lost a rekey collision (§2.8.2), which live on only until their Delete completes. Messages and timer ticks
/// are routed by our SPI; the Child SAs always belong to the current SA. Used by the IKE SA actor and by the protocol
/// tests that drive two SAs message by message. Not thread-safe.
/// </summary>
public sealed class IkeSaLineage(IkeSa current) : IDisposable
{
    private readonly List<IkeSa> _retiring = new();

    public IkeSa Current { get; private set; } = current;

    /// <summary>Replaced or redundant SAs still finishing their Delete, oldest first.</summary>
    public IReadOnlyList<IkeSa> Retiring => _retiring;

    /// <summary>Every SA of the lineage, retiring ones first.</summary>
    public IEnumerable<IkeSa> All => _retiring.Append(Current);

    /// <summary>The SPI the recipient of a message chose for its IKE SA (RFC 7296 §3.1): the responder's for a message from
    /// the original initiator, the initiator's otherwise. Every node routes by the SPI it chose itself.</summary>
    public static ulong RecipientSpi(in IkeHeader header) => header.FromInitiator ? header.ResponderSpi : header.InitiatorSpi;

    /// <summary>The SA our SPI <paramref name="spi"/> names, or null.</summary>
    public IkeSa? Find(ulong spi) => Current.OurSpi == spi ? Current : _retiring.Find(r => r.OurSpi == spi);

    /// <summary>Where a message for our SPI <paramref name="spi"/> goes: a retiring SA with that SPI, else the current one.</summary>
    public IkeSa Route(ulong spi) => _retiring.Count == 0 ? Current : _retiring.Find(r => r.OurSpi == spi) ?? Current;

    /// <summary><paramref name="predecessor"/> was rekeyed (<see cref="IkeSaRekeyed"/>): its successor becomes current.</summary>
    public void Rekeyed(IkeSa predecessor, IkeSa successor)
    {
        _retiring.Add(predecessor);
        Current = successor;
    }

    /// <summary>A collision's redundant SA (<see cref="IkeSaRedundant"/>) is routed here until its Delete completes.</summary>
    public void AddRedundant(IkeSa redundant) => _retiring.Add(redundant);

    /// <summary>A retiring SA closed; false when <paramref name="sa"/> is the current SA (the whole tunnel ends).</summary>
    public bool Retire(IkeSa sa) => sa != Current && _retiring.Remove(sa);

    public void Dispose()
    {
        Current.Dispose();
        foreach (var sa in _retiring) sa.Dispose();
    }
}

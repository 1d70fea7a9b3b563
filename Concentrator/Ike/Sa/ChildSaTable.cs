using System.Security.Cryptography;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa;

/// <summary>A Child SA as the IKE SA knows it (its keys: the data plane's, and the IKE SA's own copy for snapshots);
/// <see cref="Mode"/> is the mode negotiated (a rekey asks for it again).</summary>
public sealed record ChildSaRecord(string Child, uint InboundSpi, uint OutboundSpi, EspSuite Suite,
    IReadOnlyList<TrafficSelector> LocalTs, IReadOnlyList<TrafficSelector> RemoteTs, IpsecMode Mode = IpsecMode.Tunnel);

/// <summary>
/// Where a Child SA stands in its life under one IKE SA. Transitions are checked by <see cref="ChildSaTable.Move"/>.
/// Our own rekey and our own Delete of a child are exchanges in flight that overlap these phases (a replaced SA is
/// being deleted; an SA may expire while our rekey of it is on the wire), so they are flags of the entry
/// (<see cref="ChildSaEntry.Rekeying"/>, <see cref="ChildSaEntry.Deleting"/>), not phases.
/// </summary>
public enum ChildSaPhase
{
    /// <summary>Installed inbound-only: a rekey responder's successor that sends once its predecessor is deleted, or our
    /// own successor of a rekey collision before it is found redundant.</summary>
    AwaitingActivation = 0,

    /// <summary>Installed both ways and carrying traffic.</summary>
    Installed = 1,

    /// <summary>Replaced by a rekey (either role); only its Delete is awaited. Removed with the inbound grace.</summary>
    Rekeyed = 2,

    /// <summary>The loser of a rekey collision (RFC 7296 §2.8.1): never sends, never rekeyed; its initiator deletes it.</summary>
    Redundant = 3,
}

/// <summary>One Child SA of an IKE SA: its record, phase, exchanges of ours in flight and our copy of its keys.</summary>
public sealed class ChildSaEntry
{
    internal ChildSaEntry(ChildSaRecord record, ChildSaPhase phase, ChildKeyCopy keys)
    {
        Record = record;
        Phase = phase;
        Keys = keys;
    }

    public ChildSaRecord Record { get; }
    public ChildSaPhase Phase { get; internal set; }

    /// <summary>Our CREATE_CHILD_SA rekey of it is queued or in flight.</summary>
    public bool Rekeying { get; internal set; }

    /// <summary>Our Delete of it is queued or in flight: a peer's rekey of it gets TEMPORARY_FAILURE (§2.25.1).</summary>
    public bool Deleting { get; internal set; }

    /// <summary>Rekey responder: the successor (our inbound SPI) that starts sending once this one is deleted; 0 when none.</summary>
    public uint Successor { get; internal set; }

    internal ChildKeyCopy Keys { get; }

    /// <summary>Neither replaced, nor redundant, nor being deleted: it may be rekeyed.</summary>
    public bool IsRekeyable => (Phase is ChildSaPhase.Installed or ChildSaPhase.AwaitingActivation) && !Deleting;
}

/// <summary>
/// The Child SAs of one IKE SA by inbound SPI, one entry each, with the rekey-collision bookkeeping of RFC 7296 §2.8.1
/// (strongSwan's child_rekey). Effects and state versions go through the owning <see cref="IkeSa"/>; not thread-safe.
/// </summary>
public sealed class ChildSaTable
{
    private readonly IkeSa _owner;
    private readonly Dictionary<uint, ChildSaEntry> _entries = new();
    // The peer's rekey of a child, answered while our own rekey of it was in flight, by the old inbound SPI. Kept apart
    // from the entries: the old SA may be deleted before our response arrives, and the comparison still has to happen.
    private readonly Dictionary<uint, PassiveChildRekey> _passive = new();

    internal ChildSaTable(IkeSa owner) => _owner = owner;

    public int Count => _entries.Count;

    public IReadOnlyCollection<ChildSaRecord> Records => _entries.Values.Select(e => e.Record).ToList();

    public IEnumerable<ChildSaEntry> Entries => _entries.Values;

    public ChildSaEntry? Find(uint inboundSpi) => _entries.GetValueOrDefault(inboundSpi);

    public ChildSaRecord? FindRecord(uint inboundSpi) => Find(inboundSpi)?.Record;

    public ChildSaRecord? FindByOutbound(uint outboundSpi)
    {
        foreach (var e in _entries.Values)
        {
            if (e.Record.OutboundSpi == outboundSpi) return e.Record;
        }
        return null;
    }

    /// <summary>The allowed phase changes; a change to the phase an entry already has is a no-op and always allowed.</summary>
    public static bool CanMove(ChildSaPhase from, ChildSaPhase to) => from == to || (from, to) switch
    {
        (ChildSaPhase.AwaitingActivation, ChildSaPhase.Installed) => true,
        (ChildSaPhase.AwaitingActivation or ChildSaPhase.Installed or ChildSaPhase.Redundant, ChildSaPhase.Rekeyed) => true,
        (ChildSaPhase.AwaitingActivation or ChildSaPhase.Installed, ChildSaPhase.Redundant) => true,
        _ => false,
    };

    /// <exception cref="InvalidOperationException">An illegal change: a programming error, never a peer's doing.</exception>
    internal static void Move(ChildSaEntry entry, ChildSaPhase to)
    {
        if (!CanMove(entry.Phase, to))
            throw new InvalidOperationException($"Child SA 0x{entry.Record.InboundSpi:x8}: phase {entry.Phase} -> {to} is not allowed");
        entry.Phase = to;
    }

    /// <summary>Keeps a new child and a copy of its keys (the install's arrays become the data plane's), then hands it to
    /// the host. Installed without outbound, it awaits activation.</summary>
    internal void Add(ChildSaRecord record, ChildSaInstall install, DateTime createdUtc)
    {
        if (_entries.Remove(record.InboundSpi, out var stale)) stale.Keys.Zero();
        var keys = new ChildKeyCopy(install.InboundEncryptionKey.ToArray(), install.InboundIntegrityKey.ToArray(),
            install.OutboundEncryptionKey.ToArray(), install.OutboundIntegrityKey.ToArray(), install.Transport, install.ReplayWindow, createdUtc);
        _entries[record.InboundSpi] = new ChildSaEntry(record, install.OutboundActive ? ChildSaPhase.Installed : ChildSaPhase.AwaitingActivation, keys);
        _owner.Touch();
        _owner.Emit(new ChildSaEstablished(install));
    }

    /// <summary>
    /// The child is gone (deleted either way, or its IKE SA closes). A successor waiting for it takes over outbound
    /// before it leaves the data plane: effects run in order, so no packet meets a moment without an outbound SA.
    /// </summary>
    internal void Remove(uint inboundSpi)
    {
        if (!_entries.Remove(inboundSpi, out var entry)) return;
        entry.Keys.Zero();
        _owner.Touch();
        if (entry.Successor != 0 && _entries.TryGetValue(entry.Successor, out var successor))
        {
            if (successor.Phase == ChildSaPhase.AwaitingActivation) Move(successor, ChildSaPhase.Installed);
            _owner.Emit(new ChildSaActivated(entry.Successor));
        }
        _owner.Emit(new ChildSaRemoved(inboundSpi, entry.Phase == ChildSaPhase.Rekeyed && _owner.State != IkeSaState.Destroyed));
    }

    /// <summary>Every child goes (the IKE SA closes), in table order.</summary>
    internal void RemoveAll()
    {
        foreach (var spi in _entries.Keys.ToList()) Remove(spi);
    }

    /// <summary>Our rekey of <paramref name="old"/> completed; it only awaits its Delete now.</summary>
    internal void Rekeyed(uint old)
    {
        if (Find(old) is not { } entry) return;
        Move(entry, ChildSaPhase.Rekeyed);
        _owner.Touch();
    }

    /// <summary>Rekey responder: <paramref name="successor"/> starts sending once <paramref name="old"/> is deleted.</summary>
    internal void ActivateWhenDeleted(uint old, uint successor)
    {
        if (Find(old) is not { } entry) return;
        entry.Successor = successor;
        Move(entry, ChildSaPhase.Rekeyed);
        _owner.Touch();
    }

    /// <summary>A collision's redundant child; one already replaced stays <see cref="ChildSaPhase.Rekeyed"/>, the stronger fact
    /// (its removal keeps the inbound grace either way it was replaced).</summary>
    internal void MarkRedundant(uint inboundSpi)
    {
        if (Find(inboundSpi) is { Phase: not ChildSaPhase.Rekeyed } entry) Move(entry, ChildSaPhase.Redundant);
    }

    /// <summary>Starts our rekey of a child: false when it is unknown, not rekeyable, or already being rekeyed by us.</summary>
    internal bool TryStartRekey(uint inboundSpi)
    {
        if (Find(inboundSpi) is not { IsRekeyable: true, Rekeying: false } entry) return false;
        entry.Rekeying = true;
        return true;
    }

    /// <summary>Our rekey of <paramref name="old"/> ended (either way, or was dropped from the queue).</summary>
    internal void RekeyDone(uint old)
    {
        if (Find(old) is { } entry) entry.Rekeying = false;
    }

    /// <summary>Marks our Delete of a child as queued: false when unknown or already being deleted by us.</summary>
    internal bool TryStartDelete(uint inboundSpi)
    {
        if (Find(inboundSpi) is not { Deleting: false } entry) return false;
        entry.Deleting = true;
        return true;
    }

    internal bool IsDeleting(uint inboundSpi) => Find(inboundSpi)?.Deleting ?? false;

    internal bool IsRekeying(uint inboundSpi) => Find(inboundSpi)?.Rekeying ?? false;

    /// <summary>Rekey responder while our own rekey of <paramref name="old"/> is in flight (§2.8.1): the peer's successor and
    /// the lower nonce of its exchange, for the comparison once our response arrives.</summary>
    internal void PassiveRekey(uint old, uint successor, byte[] lowerNonce) => _passive[old] = new PassiveChildRekey(successor, lowerNonce);

    /// <summary>The peer's colliding rekey of <paramref name="old"/>, if any; taken by our own rekey task as it ends.</summary>
    internal PassiveChildRekey? TakePassiveRekey(uint old) => _passive.Remove(old, out var passive) ? passive : null;

    /// <summary>Our rekey of <paramref name="old"/> won the collision: the peer's successor is redundant (the peer deletes it)
    /// and must never take over outbound.</summary>
    internal void CollisionWon(uint old, uint redundant)
    {
        if (Find(old) is { } entry && entry.Successor == redundant) entry.Successor = 0;
        MarkRedundant(redundant);
    }

    /// <summary>
    /// Moves every child to <paramref name="successor"/>'s table (an IKE rekey, RFC 7296 §2.18): phases, pending
    /// activations and keys go along; our rekeys and Deletes in flight were exchanges of this IKE SA and end with it.
    /// Returns the children whose Delete we had queued, for the successor to delete again.
    /// </summary>
    internal List<uint> MoveTo(ChildSaTable successor)
    {
        var pendingDeletes = new List<uint>();
        foreach (var (spi, entry) in _entries)
        {
            if (entry.Deleting) pendingDeletes.Add(spi);
            entry.Rekeying = false;
            entry.Deleting = false;
            successor._entries[spi] = entry;
        }
        _entries.Clear();
        _passive.Clear();
        return pendingDeletes;
    }

    /// <summary>Zeroes our copies of every child's keys (the IKE SA is disposed).</summary>
    internal void ZeroKeys()
    {
        foreach (var entry in _entries.Values) entry.Keys.Zero();
    }
}

/// <summary>The peer's rekey of a child that collided with ours: its successor (our inbound SPI) and its lower nonce.</summary>
public sealed record PassiveChildRekey(uint Successor, byte[] LowerNonce);

/// <summary>A child's ESP keys as installed (the IKE SA's own copies) and the install facts a snapshot needs.</summary>
public sealed record ChildKeyCopy(byte[] InboundEncryption, byte[] InboundIntegrity, byte[] OutboundEncryption, byte[] OutboundIntegrity,
    EspTransport Transport, int ReplayWindow, DateTime CreatedUtc)
{
    public void Zero()
    {
        CryptographicOperations.ZeroMemory(InboundEncryption);
        CryptographicOperations.ZeroMemory(InboundIntegrity);
        CryptographicOperations.ZeroMemory(OutboundEncryption);
        CryptographicOperations.ZeroMemory(OutboundIntegrity);
    }
}

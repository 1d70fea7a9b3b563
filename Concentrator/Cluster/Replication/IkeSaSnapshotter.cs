using Concentrator.DataPlane.Esp;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Tasks;
using Concentrator.Ipsec;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// An IKE SA to and from its <see cref="IkeSaSnapshot"/> (cluster failover: another node adopts the SA without a new
/// negotiation). No Akka here; the replica that carries snapshots between nodes lives in Cluster.
/// </summary>
public static class IkeSaSnapshotter
{
    /// <summary>
    /// Established (and not replaced by an IKE rekey), or a responder whose IKE_SA_INIT response is sent and whose
    /// IKE_AUTH is not processed yet; false otherwise (Created, Deleting, Destroyed, initiator before establishment).
    /// </summary>
    public static bool CanSnapshot(IkeSa sa) => sa.Keys is not null && sa.Protector is not null && sa.Successor is null &&
                                         (sa.State == IkeSaState.Established ||
                                          (sa.State == IkeSaState.Connecting && !sa.IsInitiator && sa.InitResponse.Length > 0));

    /// <summary>
    /// The state after the last completed exchange, with copies of every key (the caller disposes the snapshot). Transient
    /// negotiation state is left out: a request of ours in flight (see <see cref="IkeSaSnapshot.NextRequestId"/>), queued
    /// exchanges (a DPD, a child rekey, an initial child not created yet), rekey collisions. <paramref name="sequenceMarks"/>
    /// gives the data plane's (last outbound sequence number used, highest inbound accepted) of a child by its inbound SPI
    /// (the host reads <c>IDataPlane.TryGetSequenceMarks</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="CanSnapshot"/> is false for <paramref name="sa"/>.</exception>
    public static IkeSaSnapshot Snapshot(IkeSa sa, Func<uint, (ulong LastOutbound, ulong InboundTop)> sequenceMarks)
    {
        ArgumentNullException.ThrowIfNull(sequenceMarks);
        if (!CanSnapshot(sa)) throw new InvalidOperationException($"IKE SA in state {sa.State} cannot be snapshot");
        bool halfOpen = sa.State == IkeSaState.Connecting;
        var children = new List<ChildSaSnapshot>(sa.ChildTable.Count);
        foreach (var entry in sa.ChildTable.Entries)
        {
            var (c, k) = (entry.Record, entry.Keys);
            var (lastOutbound, inboundTop) = sequenceMarks(c.InboundSpi);
            children.Add(new ChildSaSnapshot(c.Child, c.InboundSpi, c.OutboundSpi, c.Suite,
                k.InboundEncryption.ToArray(), k.InboundIntegrity.ToArray(), k.OutboundEncryption.ToArray(), k.OutboundIntegrity.ToArray(),
                c.LocalTs, c.RemoteTs, k.Transport, k.ReplayWindow, k.CreatedUtc, lastOutbound, inboundTop)
            {
                Replaced = entry.Phase == ChildSaPhase.Rekeyed,
                Successor = entry.Successor,
                Mode = c.Mode,
            });
        }

        var keys = sa.Keys!;
        return new IkeSaSnapshot
        {
            SpiI = sa.SpiI,
            SpiR = sa.SpiR,
            IsInitiator = sa.IsInitiator,
            State = sa.State,
            // A half-open responder picks its connection in IKE_AUTH, by identity, from the candidates.
            Connection = halfOpen ? "" : sa.Connection!.Name,
            Candidates = halfOpen ? sa.Candidates.Select(c => c.Name).ToList() : [],
            Local = sa.LocalEndpoint,
            Remote = sa.RemoteEndpoint,
            NatT = sa.NatT,
            NatDetected = sa.NatDetected,
            BehindNat = sa.BehindNat,
            PeerSupportsFragmentation = sa.PeerSupportsFragmentation,
            PeerSupportsMobike = sa.PeerSupportsMobike,
            RolesSwapped = sa.OriginalInitiator != sa.IsInitiator,
            StateVersion = sa.StateVersion,
            EstablishedUtc = sa.EstablishedUtc,
            LocalId = sa.LocalId,
            RemoteId = sa.RemoteId,
            EapIdentity = sa.EapIdentity,
            LoginMethod = sa.EapIdentity is null ? null : sa.LoginMethod,
            Suite = sa.Suite,
            Keys = CopyKeys(keys),
            // Nonces and the IKE_SA_INIT messages only serve IKE_AUTH (AUTH payloads, the first child's KEYMAT).
            NonceI = halfOpen ? sa.NonceI.ToArray() : [],
            NonceR = halfOpen ? sa.NonceR.ToArray() : [],
            InitRequest = halfOpen ? sa.InitRequest.ToArray() : [],
            InitResponse = halfOpen ? sa.InitResponse.ToArray() : [],
            NextRequestId = sa.TaskManager.NextRequestId,
            PeerNextRequestId = sa.TaskManager.PeerNextRequestId,
            LastResponse = sa.TaskManager.LastResponse is { } r ? new CachedIkeResponse(r.MessageId, r.Request.ToArray(), r.Response.ToArray()) : null,
            Children = children,
            VirtualIps = sa.VirtualIps.All.ToList(),
        };
    }

    /// <summary>
    /// Rebuilds the SA on another node (<paramref name="context"/>: its data plane, the same configuration). Established:
    /// emits <see cref="IkeSaRestored"/>, then one <see cref="ChildSaEstablished"/> per child whose install starts outbound
    /// at the snapshot's mark + <paramref name="outboundSequenceMargin"/> and refuses inbound at or below the snapshot's
    /// floor (the host installs them as it does new children); a child our completed rekey replaced gets its Delete
    /// queued again (it may have been lost with the old node). Half-open responder: no effect; the next IKE_AUTH is
    /// processed normally. Connection names resolve through <see cref="IConnectionResolver.FindConnection"/>; a name that
    /// no longer exists, a suite this node cannot run, or a virtual IP lease this node's pools cannot take (another
    /// identity holds the address here) makes it return null. Not counted as a new negotiation.
    /// The snapshot stays the caller's (every array is copied).
    /// </summary>
    public static IkeSa? Restore(IkeSaContext context, IkeSaSnapshot snapshot, ulong outboundSequenceMargin)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(snapshot);
        var s = snapshot;
        bool halfOpen = s.State == IkeSaState.Connecting;
        if (halfOpen ? s.IsInitiator : s.State != IkeSaState.Established) return null;

        ConnectionConfig? connection = null;
        var candidates = new List<ConnectionConfig>();
        foreach (var name in halfOpen ? s.Candidates : [s.Connection])
        {
            if (context.Resolver.FindConnection(name) is not { } found) return null;
            candidates.Add(found);
        }
        if (candidates.Count == 0) return null;
        if (!halfOpen) connection = candidates[0];
        if (!s.Children.All(Installable)) return null;

        var keys = CopyKeys(s.Keys);
        IkeMessageProtector protector;
        try
        {
            protector = new IkeMessageProtector(s.Suite, keys, s.IsInitiator);
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            // A suite or key length this node cannot run (replicated from a differently built node): not adoptable.
            keys.Dispose();
            return null;
        }

        var sa = IkeSa.CreateRestored(context, s.IsInitiator, s.SpiI, s.SpiR, s.Local, s.Remote, s.NatT);
        sa.Connection = connection;
        sa.Candidates = candidates;
        sa.LocalId = s.LocalId;
        sa.RemoteId = s.RemoteId;
        sa.EapIdentity = s.EapIdentity;
        // Responder: the login method a snapshot carries for an EAP user, else the remote round's (psk or pubkey).
        sa.LoginMethod = s.IsInitiator ? null : s.LoginMethod ?? connection?.Remote.Auth;
        sa.NatDetected = s.NatDetected;
        sa.BehindNat = s.BehindNat;
        sa.PeerSupportsFragmentation = s.PeerSupportsFragmentation;
        sa.PeerSupportsMobike = s.PeerSupportsMobike;
        sa.OriginalInitiator = s.IsInitiator != s.RolesSwapped;
        sa.Suite = s.Suite;
        sa.ProposalText = IkeInitTask.Describe(s.Suite);
        sa.Keys = keys;
        sa.Protector = protector;
        sa.NonceI = s.NonceI.ToArray();
        sa.NonceR = s.NonceR.ToArray();
        sa.InitRequest = s.InitRequest.ToArray();
        sa.InitResponse = s.InitResponse.ToArray();
        sa.EstablishedUtc = s.EstablishedUtc;
        sa.TaskManager.NextRequestId = s.NextRequestId;
        sa.TaskManager.PeerNextRequestId = s.PeerNextRequestId;
        if (s.LastResponse is { } cached)
        {
            sa.TaskManager.LastResponse = new CachedResponse(cached.MessageId, cached.Request.ToArray(), cached.Response.ToArray());
        }
        // The adopter holds the leases in its own pools; one another identity holds online here would give two tunnels
        // one address, so such an SA is not adopted (its peer renegotiates and gets an address of its own).
        if (!sa.VirtualIps.TakeOver(s.VirtualIps, context.Pools, sa.User, s.Remote))
        {
            sa.Dispose();
            return null;
        }
        sa.Move(s.State);
        sa.LastInbound = Environment.TickCount64;
        if (halfOpen)
        {
            sa.StateVersion = s.StateVersion;
            return sa;
        }

        sa.Emit(new IkeSaRestored(connection!.Name, s.RemoteId?.Text ?? ""));
        if (sa.LoginMethod is { } method) sa.Telemetry.UserOnline(method);
        var awaitingActivation = new HashSet<uint>();
        foreach (var c in s.Children)
        {
            if (c.Successor != 0) awaitingActivation.Add(c.Successor);
        }

        foreach (var c in s.Children)
        {
            if (sa.ChildTable.Find(c.InboundSpi) is not null) continue;
            // The interface is the child's config's, as for a new SA: an adopted SA lands on the same ipsec<N> it left.
            var childConfig = connection.Children.GetValueOrDefault(c.Child);
            var install = new ChildSaInstall(c.InboundSpi, c.OutboundSpi, c.Suite,
                c.InboundEncryptionKey.ToArray(), c.InboundIntegrityKey.ToArray(), c.OutboundEncryptionKey.ToArray(), c.OutboundIntegrityKey.ToArray(),
                c.LocalTs, c.RemoteTs, s.Local, s.Remote, c.Transport, c.ReplayWindow, connection.Name, c.Child,
                OutboundActive: !awaitingActivation.Contains(c.InboundSpi),
                // The old node may have sent up to its last replicated mark plus whatever it sent since: skip a margin.
                OutboundSequenceStart: c.OutboundSequenceMark > ulong.MaxValue - outboundSequenceMargin ? ulong.MaxValue : c.OutboundSequenceMark + outboundSequenceMargin,
                InboundSequenceFloor: c.InboundSequenceFloor,
                Mode: c.Mode,
                InterfaceIdIn: childConfig?.InterfaceIdIn ?? 0,
                InterfaceIdOut: childConfig?.InterfaceIdOut ?? 0);
            sa.ChildTable.Add(new ChildSaRecord(c.Child, c.InboundSpi, c.OutboundSpi, c.Suite, c.LocalTs, c.RemoteTs, c.Mode), install, c.CreatedUtc);
        }

        var ourDeletes = new List<uint>();
        foreach (var c in s.Children)
        {
            if (c.Successor != 0 && sa.ChildTable.Find(c.Successor) is not null)
            {
                sa.ChildTable.ActivateWhenDeleted(c.InboundSpi, c.Successor);
            }
            else if (c.Replaced)
            {
                sa.ChildTable.Rekeyed(c.InboundSpi);
                ourDeletes.Add(c.InboundSpi);
            }
        }

        sa.StateVersion = s.StateVersion;
        foreach (var spi in ourDeletes) sa.DeleteChild(spi);
        return sa;
    }

    /// <summary>
    /// Whether this node's data plane can run the child as replicated: the bytes come from another member, and a suite
    /// the ESP transform refuses (an AEAD cipher with an integrity algorithm, a key of the wrong length, an algorithm
    /// this build lacks) would otherwise fail the adopting actor when it installs the child. Not adoptable then, as
    /// for an IKE suite this node cannot run.
    /// </summary>
    private static bool Installable(ChildSaSnapshot c)
    {
        try
        {
            EspCipher.Create(c.Suite, c.InboundEncryptionKey, c.InboundIntegrityKey).Dispose();
            EspCipher.Create(c.Suite, c.OutboundEncryptionKey, c.OutboundIntegrityKey).Dispose();
            return true;
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }

    private static IkeKeys CopyKeys(IkeKeys k) => new()
    {
        SkD = k.SkD.ToArray(),
        SkAi = k.SkAi.ToArray(),
        SkAr = k.SkAr.ToArray(),
        SkEi = k.SkEi.ToArray(),
        SkEr = k.SkEr.ToArray(),
        SkPi = k.SkPi.ToArray(),
        SkPr = k.SkPr.ToArray(),
    };
}

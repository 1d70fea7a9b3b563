using System.Buffers.Binary;
using System.Net;
using Concentrator.DataPlane;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// Whether a message that reached a node may move an SA there: it must be the peer's, authenticated with the SA's own
/// keys, and new. The node that would adopt checks it against its replica before it asks for anything, the holder
/// checks it again against its live state before it releases. So unauthenticated bytes cost a table lookup and at most
/// one decryption (bounded per second by the caller), and never move an SA or reopen its replay window.
/// <list type="bullet">
/// <item>ESP: the ICV verifies with the child's inbound keys and the sequence number lies above the SA's inbound mark
/// (every number up to the mark counts as seen, <see cref="EspPipeline.Authenticates"/>).</item>
/// <item>IKE: the header names the SA's SPIs and comes from the peer's side; the SK payload (or one SKF fragment of a
/// message, RFC 7383: every fragment is authenticated on its own) opens with the SA's keys; a
/// request carries at least the message ID the peer's next request must carry, a response at least the ID of our
/// next (or in-flight) request. The peer's last request once more (a retransmission) is <see cref="Verdict.Retransmission"/>:
/// it moves an SA only away from a holder that is gone (which never answered it), or a replay of it could bounce the
/// SA between live nodes.</item>
/// </list>
/// </summary>
public static class MoveProof
{
    public enum Verdict
    {
        Refused = 0,
        Fresh = 1,
        Retransmission = 2,
    }

    private static readonly IPEndPoint Nowhere = new(IPAddress.None, 0);

    /// <param name="proof">An IKE datagram, or with <paramref name="esp"/> an ESP packet from its SPI on; not modified.</param>
    public static Verdict Check(IkeSaSnapshot sa, byte[] proof, bool esp, int maxPayloads)
    {
        ArgumentNullException.ThrowIfNull(sa);
        ArgumentNullException.ThrowIfNull(proof);
        return esp ? Esp(sa, proof) : Ike(sa, proof, maxPayloads);
    }

    private static Verdict Esp(IkeSaSnapshot sa, byte[] packet)
    {
        if (packet.Length < 4) return Verdict.Refused;
        uint spi = BinaryPrimitives.ReadUInt32BigEndian(packet);
        foreach (var c in sa.Children)
        {
            if (c.InboundSpi != spi) continue;
            var install = new ChildSaInstall(c.InboundSpi, c.OutboundSpi, c.Suite,
                c.InboundEncryptionKey.ToArray(), c.InboundIntegrityKey.ToArray(), c.OutboundEncryptionKey.ToArray(), c.OutboundIntegrityKey.ToArray(),
                [], [], Nowhere, Nowhere, c.Transport, c.ReplayWindow, "", c.Child, OutboundActive: false, InboundSequenceFloor: c.InboundSequenceFloor);
            try
            {
                return EspPipeline.Authenticates(install, packet.ToArray()) ? Verdict.Fresh : Verdict.Refused;
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or System.Security.Cryptography.CryptographicException)
            {
                return Verdict.Refused; // a suite or key this node cannot run
            }
        }
        return Verdict.Refused;
    }

    private static Verdict Ike(IkeSaSnapshot sa, byte[] datagram, int maxPayloads)
    {
        if (IkeHeader.TryParse(datagram, out var header) != ParseStatus.Ok || header.InitiatorSpi != sa.SpiI || header.ResponderSpi != sa.SpiR ||
            header.Exchange == ExchangeType.IkeSaInit || header.FromInitiator == sa.IsInitiator)
        {
            return Verdict.Refused;
        }
        if (IkeCodec.TryDecode(datagram, header, out var message, out _, maxPayloads) != ParseStatus.Ok || message is null) return Verdict.Refused;
        IkeMessageProtector protector;
        try
        {
            protector = new IkeMessageProtector(sa.Suite, sa.Keys, sa.IsInitiator);
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            return Verdict.Refused;
        }
        using (protector)
        {
            var status = message.Payloads is [EncryptedPayload { IsFragment: true } fragment]
                ? OpenFragment(protector, datagram, fragment)
                : protector.TryOpen(datagram, message, maxPayloads);
            if (status != ParseStatus.Ok) return Verdict.Refused;
        }
        if (header.IsResponse) return header.MessageId >= sa.NextRequestId ? Verdict.Fresh : Verdict.Refused;
        if (header.MessageId >= sa.PeerNextRequestId) return Verdict.Fresh;
        return header.MessageId + 1 == sa.PeerNextRequestId ? Verdict.Retransmission : Verdict.Refused;
    }

    private static ParseStatus OpenFragment(IkeMessageProtector protector, byte[] datagram, EncryptedPayload fragment)
    {
        var status = protector.TryOpenFragment(datagram, fragment, out _, out var content, out _);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(content);
        return status;
    }
}

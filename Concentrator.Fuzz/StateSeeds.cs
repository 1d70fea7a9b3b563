using System.Buffers.Binary;
using System.Net;
using Concentrator.Cluster.Replication;
using Concentrator.DataPlane;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// Seeds of the targets beyond the parsers, made by the project's own code: scripts of <see cref="IkeSaTarget"/> (a
/// handshake, a whole lifecycle, injected and replaced messages with real payload chains, the IKE_AUTH shapes without
/// AUTH), plaintexts of <see cref="EspOpenTarget"/> for every suite with and without ESN, and replica entries of
/// <see cref="ReplicaTarget"/> from real SAs (established both ends, half-open, a leased virtual IP, several and rekeyed children), and scripts of
/// <see cref="IkeFragTarget"/>.
/// </summary>
public static class StateSeeds
{
    public static IEnumerable<(string Name, byte[] Data)> IkeSa()
    {
        for (byte suite = 0; suite < IkeSaTarget.Suites.Length; suite++)
        {
            var (ike, esp) = IkeSaTarget.Suites[suite];
            string tag = $"s{suite}";
            yield return ($"{tag}-handshake", [suite]);
            yield return ($"{tag}-lifecycle", [suite, 0, 0, 0, 0, 4, 0, 0, 5, 0, 0, 0, 0, 0x16, 0, 0, 0, 0, 7, 0, 0, 0x17, 0, 0, 8, 0, 0, 3, 9, 0, 0]);
            yield return ($"{tag}-retransmit", [suite, 1, 3, 0, 2, 0, 0, 0, 0x17, 1, 0x13, 0, 0]);
            yield return ($"{tag}-corrupt", [suite, 0, 0, 12, 0, 40, 1, 0, 0]);

            var chains = Chains(ike, esp);
            // A CREATE_CHILD_SA request of the initiator, injected after the handshake, then the answer delivered.
            var create = chains.Single(c => c.Name.Contains("-rekey-createchildsa-req", StringComparison.Ordinal));
            var createChain = Chain(create.Inner!.Where(p => p is not NotifyPayload { NotifyType: NotifyType.RekeySa }).ToList());
            yield return ($"{tag}-inject-create-child", [suite, 0, 0, 0, 0, 10, 2, 0, .. createChain, 0]);
            // The same between IKE_SA_INIT and IKE_AUTH (the initiator's IKE_AUTH dropped): from a peer nobody authenticated.
            yield return ($"{tag}-pre-auth-create-child", [suite, 0, 0, 1, 10, 2, 0, .. createChain]);
            // The same chain in place of the initiator's own CREATE_CHILD_SA, and a responder's answer in place of its own.
            var answer = chains.Single(c => c.Name.Contains("-rekey-createchildsa-resp", StringComparison.Ordinal));
            yield return ($"{tag}-replace-create-child", [suite, 0, 0, 0, 0, 4, 11, .. createChain, 11, .. Chain(answer.Inner!)]);
            // The IKE_AUTH request as recorded (its AUTH no longer fits these keys), and the EAP shapes: IDi alone, EAP alone.
            var auth = chains.Single(c => c.Name.Contains("-setup-ikeauth-req", StringComparison.Ordinal)).Inner!;
            yield return ($"{tag}-replace-auth", [suite, 0, 0, 11, .. Chain(auth)]);
            yield return ($"{tag}-eap-start", [suite, 0, 0, 11, .. Chain(auth.Where(p => p.Type != PayloadType.Authentication).ToList())]);
            yield return ($"{tag}-eap-only", [suite, 0, 0, 11, .. Chain([new EapPayload([2, 1, 0, 5, 1])])]);
            // Informational exchanges with deletes from the responder, and an IKE_SA_INIT with an error notify alone.
            var delete = chains.Single(c => c.Name.Contains("-delete-informational-req", StringComparison.Ordinal));
            yield return ($"{tag}-inject-delete", [suite, 0, 0, 0, 0, 0x1A, 3, 0, .. Chain(delete.Inner!), 0]);
            yield return ($"{tag}-init-error-only", [suite, 11, .. Chain([new NotifyPayload(NotifyType.NoProposalChosen)])]);
        }
    }

    /// <summary>u8 first payload type, u16 length, the encoded chain (the operand of inject and replace).</summary>
    private static byte[] Chain(IReadOnlyList<Payload> payloads)
    {
        var chain = new byte[IkeCodec.GetChainLength(payloads)];
        IkeCodec.WriteChain(payloads, chain);
        var operand = new byte[3 + chain.Length];
        operand[0] = (byte)(payloads.Count > 0 ? payloads[0].Type : PayloadType.None);
        BinaryPrimitives.WriteUInt16BigEndian(operand.AsSpan(1), (ushort)chain.Length);
        chain.CopyTo(operand, 3);
        return operand;
    }

    private static List<(string Name, byte[] Datagram, List<Payload>? Inner)> Chains(string ike, string esp) => SeedGenerator.Exchange(ike, esp);

    /// <summary>
    /// Scripts of <see cref="IkeFragTarget"/> for both suites at fragment sizes 576 and 1280: in order, reversed, duplicated,
    /// a changed octet, more fragments than the bound, a larger Total Fragments that makes the genuine ones stale, forged
    /// response fragments, a retransmission, max_packet and fragment_memory too small, a fragmented INFORMATIONAL, and authentic fragments padded
    /// by 255 octets.
    /// </summary>
    public static IEnumerable<(string Name, byte[] Data)> IkeFrag()
    {
        foreach (byte setup in new byte[] { 0, 1, 6, 7 })
        {
            string tag = $"{((setup & 1) == 0 ? "gcm" : "cbc")}{((setup & 6) == 6 ? 1280 : 576)}";
            yield return ($"{tag}-in-order", [setup, 5]);
            yield return ($"{tag}-reversed", [setup, 0, 5, 0, 4, 0, 3, 0, 2, 0, 1, 5]);
            yield return ($"{tag}-duplicates", [setup, 0, 1, 0, 1, 0, 2, 0, 2, 0, 3, 0, 1, 5, 1, 1, 1, 1]);
            yield return ($"{tag}-flipped", [setup, 2, 1, 0, 60, 0x40, 2, 2, 0, 40, 0x01, 5]);
            yield return ($"{tag}-too-many", [setup, 3, 0, 1, 1, 0, 35, 0, 4, 1, 2, 3, 4, 5]);
            yield return ($"{tag}-refragmented", [setup, 0, 1, 3, 0, 1, 0, 9, 35, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 5]);
            yield return ($"{tag}-response-forged",
                [setup, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 3, 0, 1, 0, 2, 39, 1, 4, 9, 9, 9, 9, 1, 1, 1, 2, 1, 3, 5]);
            yield return ($"{tag}-retransmit", [setup, 0, 1, 4, 5]);
            yield return ($"{tag}-max-packet", [(byte)(setup | 8), 5]);
            yield return ($"{tag}-memory", [(byte)(setup | 16), 5]);
            yield return ($"{tag}-informational", [setup, 5, 3, 0, 1, 0, 2, 0, 6, 0, 3, 0, 2, 0, 2, 0, 6, 0, 5]);
            yield return ($"{tag}-padded", [setup, 3, 0, 1, 0, 255, 0, 8, 0, 3, 0, 2, 0, 255, 0, 8, 0, 5]);
        }
    }

    public static IEnumerable<(string Name, byte[] Data)> EspOpen()
    {
        var inners = new (string Name, byte NextHeader, byte[] Packet)[]
        {
            ("ipv4-tcp-443", 4, Ipv4("10.200.1.5", "10.10.0.7", 6, 40000, 443, 60)),
            ("ipv4-icmp", 4, Ipv4("10.200.1.5", "10.11.0.1", 1, 0, 0, 84)),
            ("ipv4-outside-ts", 4, Ipv4("10.99.0.1", "10.10.0.7", 17, 53, 53, 48)),
            ("ipv6-udp", 41, Ipv6("2001:db8:1::5", "2001:db8::7", 17, 4500, 53, 80)),
            ("dummy", 59, []),
        };
        for (byte suite = 0; suite < EspOpenTarget.Suites.Length; suite++)
        {
            foreach (bool esn in new[] { false, true })
            {
                byte selector = (byte)(suite | (esn ? 4 : 0));
                string tag = $"{EspOpenTarget.Suites[suite].Encryption}-{EspOpenTarget.Suites[suite].KeyBits}{(esn ? "-esn" : "")}".ToLowerInvariant();
                foreach (var (name, nextHeader, packet) in inners)
                {
                    yield return ($"{tag}-{name}", [selector, 0, 0, 0, 1, 0, 0, 0, 0, nextHeader, .. packet]);
                }
                // The whole encrypted part from the input: payload, padding 1, 2, ... to the cipher's alignment, pad length,
                // next header 4.
                var ip = Ipv4("10.200.1.5", "10.10.0.7", 6, 1, 80, 40);
                int alignment = EspOpenTarget.Suites[suite].Encryption == EncrAlgorithm.AesCbc ? 16 : 4;
                int pad = (alignment - (ip.Length + 2) % alignment) % alignment;
                byte[] trailer = [.. Enumerable.Range(1, pad).Select(b => (byte)b), (byte)pad, 4];
                yield return ($"{tag}-raw-trailer", [(byte)(selector | 8), 0, 0, 0, 7, 0, 0, 0, 0, 0, .. ip, .. trailer]);
            }
        }
    }

    private static byte[] Ipv4(string source, string destination, byte protocol, ushort sourcePort, ushort destinationPort, int length)
    {
        var p = new byte[length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)length);
        p[8] = 64;
        p[9] = protocol;
        IPAddress.Parse(source).TryWriteBytes(p.AsSpan(12), out _);
        IPAddress.Parse(destination).TryWriteBytes(p.AsSpan(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), destinationPort);
        return p;
    }

    private static byte[] Ipv6(string source, string destination, byte protocol, ushort sourcePort, ushort destinationPort, int length)
    {
        var p = new byte[length];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(length - 40));
        p[6] = protocol;
        p[7] = 64;
        IPAddress.Parse(source).TryWriteBytes(p.AsSpan(8), out _);
        IPAddress.Parse(destination).TryWriteBytes(p.AsSpan(24), out _);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(40), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(42), destinationPort);
        return p;
    }

    public static IEnumerable<(string Name, byte[] Data)> Replica()
    {
        // Suites 0 and 1 of the ike-sa target: AES-GCM, and ChaCha20-Poly1305 with ESN children.
        for (byte suite = 0; suite < 2; suite++)
        {
            string tag = $"s{suite}";
            var (i, r) = IkeSaTarget.Create(suite);
            try
            {
                var queue = new Queue<(bool FromResponder, byte[] Datagram)>();
                i.Lineage.Current.Initiate();
                Pump(i, r, queue, untilResponderConnecting: true);
                yield return ($"{tag}-half-open-responder", Entry(r, released: false));
                Pump(i, r, queue);
                yield return ($"{tag}-established-initiator", Entry(i, released: false));
                yield return ($"{tag}-established-responder-released", Entry(r, released: true));
                if (suite == 0)
                {
                    // A responder that leased the peer a virtual IP: the snapshot's version 2, the lease after the children.
                    var rw = r.Lineage.Current;
                    rw.VirtualIps.Add(new VirtualIp("rw-pool", IPAddress.Parse("10.200.0.9")), rw.RemoteEndpoint);
                    yield return ($"{tag}-established-responder-virtual-ip", Entry(r, released: false));
                    rw.VirtualIps.Release(AddressPools.None, rw.RemoteId); // the seeds after this one stay version 1
                }
                i.Lineage.Current.CreateChild(i.Lineage.Current.Connection!.Children.Values.First());
                Pump(i, r, queue);
                i.Lineage.Current.RekeyChild(i.Lineage.Current.Children.First().InboundSpi);
                Pump(i, r, queue);
                yield return ($"{tag}-after-rekey-responder", Entry(r, released: false));
                yield return ($"{tag}-after-rekey-initiator", Entry(i, released: false));
            }
            finally
            {
                i.Dispose();
                r.Dispose();
            }
        }
    }

    private static byte[] Entry(IkeSaTarget.Side side, bool released)
    {
        var sa = side.Lineage.Current;
        using var snapshot = IkeSaSnapshotter.Snapshot(sa, _ => (5, 9));
        var spis = sa.Children.Select(c => c.InboundSpi).ToArray();
        return SaReplicaEntry.Create("akka.tcp://concentrator@10.0.0.7:4053", epoch: 3, released, spis, IkeSaSnapshotCodec.Encode(snapshot)).Raw;
    }

    /// <summary>Delivers both sides' messages until quiet (or, for the half-open seed, until the responder answered IKE_SA_INIT).</summary>
    private static void Pump(IkeSaTarget.Side i, IkeSaTarget.Side r, Queue<(bool FromResponder, byte[] Datagram)> queue, bool untilResponderConnecting = false)
    {
        for (int round = 0; round < 64; round++)
        {
            foreach (var (side, fromResponder) in new[] { (i, false), (r, true) })
            {
                foreach (var sa in side.Lineage.All.ToList())
                {
                    foreach (var e in sa.DrainEffects())
                    {
                        if (e is SendMessage m) queue.Enqueue((fromResponder, m.Datagram));
                        if (e is ChildSaEstablished c) side.Plane.AddSa(c.Install);
                        if (e is ChildSaRemoved gone) side.Plane.DeleteSa(gone.InboundSpi);
                    }
                }
            }

            if (untilResponderConnecting && r.Lineage.Current.State == IkeSaState.Connecting) return;
            if (queue.Count == 0) return;
            var (fromR, datagram) = queue.Dequeue();
            var to = fromR ? i : r;
            IkeHeader.TryParse(datagram, out var header);
            to.Lineage.Route(IkeSaLineage.RecipientSpi(header)).HandleDatagram(datagram, (fromR ? r : i).Self, to.Self, false);
        }
    }
}

using System.Security.Cryptography;
using Concentrator.Cluster.Replication;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Hosting;
using Concentrator.Ike.Attributes;
using Concentrator.Ike.Sa;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// replica: the bytes another cluster member replicates. The input is a replica entry (<see cref="SaReplicaEntry"/>:
/// owner, epoch, ESP SPIs, snapshot); what decodes is restored as a node adopting the SA would
/// (<see cref="IkeSaSnapshotter.Restore"/> with this node's connections, every restored Child SA installed in a data
/// plane as the EffectRunner installs it), snapshotted again and encoded again. Besides any exception, a crash is a
/// restored SA whose own snapshot does not decode.
/// </summary>
public static class ReplicaTarget
{
    /// <summary>The connections a snapshot may name: the seed generator's responder ("rw") and initiator ("site") on one node.</summary>
    public static readonly ConcentratorConfig Node = ConcentratorConfig.Parse("""
        listen: { addresses: [127.0.0.1], ike_port: 0, natt_port: 0 }
        pools:
          rw-pool: { addrs: 10.200.0.0/24 }
        connections:
          rw:
            proposals: [aes256gcm16-prfsha256-x25519, chacha20poly1305-prfsha256-x25519]
            pools: [rw-pool]
            local: { auth: psk, id: gw.test }
            remote: { auth: psk, id: "%any" }
            children:
              lan: { local_ts: [10.10.0.0/16], remote_ts: [10.200.0.0/16], esp_proposals: [aes256gcm16, chacha20poly1305-esn] }
          site:
            remote_addrs: [127.0.0.1]
            proposals: [aes256gcm16-prfsha256-x25519, chacha20poly1305-prfsha256-x25519]
            local: { auth: psk, id: site.test }
            remote: { auth: psk, id: gw.test }
            children:
              net: { local_ts: [10.200.1.0/24], remote_ts: [10.10.0.0/16], esp_proposals: [aes256gcm16, chacha20poly1305-esn] }
        secrets:
          rw: { secret: "test-shared-key-0123456789" }
        """, "<fuzz-node>");

    /// <summary>True when the input restored an SA.</summary>
    public static bool Run(ReadOnlySpan<byte> input)
    {
        if (!SaReplicaEntry.TryDecode(input.ToArray(), out var entry)) return false;
        if (IkeSaSnapshotCodec.TryDecode(entry!.Snapshot.Span, out var snapshot) != ParseStatus.Ok) return false;
        using var plane = new InMemoryDataPlane();
        // A lease in the snapshot is taken in this node's pools, as an adopter takes it.
        var context = new IkeSaContext { Resolver = new ConfigConnectionResolver(Node), DataPlane = plane, Pools = new AddressPools(Node.Pools.Values) };
        IkeSa? sa;
        using (snapshot)
        {
            sa = IkeSaSnapshotter.Restore(context, snapshot!, outboundSequenceMargin: 1 << 24);
        }
        if (sa is null) return false;
        using (sa)
        {
            foreach (var effect in sa.DrainEffects())
            {
                if (effect is not ChildSaEstablished c) continue;
                try
                {
                    plane.AddSa(c.Install);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or CryptographicException)
                {
                    // The EffectRunner refuses such a child the same way.
                }
            }

            if (!IkeSaSnapshotter.CanSnapshot(sa)) return true;
            using var again = IkeSaSnapshotter.Snapshot(sa, spi => plane.TryGetSequenceMarks(spi, out var o, out var t) ? (o, t) : (0, 0));
            var encoded = IkeSaSnapshotCodec.Encode(again);
            if (IkeSaSnapshotCodec.TryDecode(encoded, out var decoded) != ParseStatus.Ok)
            {
                throw new InvalidOperationException("a restored SA's own snapshot does not decode");
            }
            decoded!.Dispose();
        }
        return true;
    }
}

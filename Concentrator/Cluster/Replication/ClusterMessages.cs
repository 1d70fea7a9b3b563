using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Concentrator.Cluster.Membership;
using Concentrator.Ike.Wire;

namespace Concentrator.Cluster.Replication;

/// <summary>
/// The messages of ours that cross remoting between cluster nodes, all of them (every other message is refused by
/// <see cref="RefusingObjectSerializer"/>). The receiving <see cref="SaMobilityActor"/> acts on one only when its sender
/// is a member Up other than itself, and on an answer only from the node it asked.
/// </summary>
public interface IClusterMessage;

/// <summary>
/// To the holder's mobility actor: the peer's traffic for SA <paramref name="Spi"/> now reaches the sender; release it
/// there. <paramref name="Proof"/> is the message of the peer that reached the sender (an IKE datagram, or with
/// <paramref name="EspProof"/> an ESP packet from its SPI on): the holder releases only if it authenticates.
/// </summary>
public sealed record ReleaseRequest(ulong Spi, bool EspProof, byte[] Proof) : IClusterMessage;

/// <summary>The holder's answer: it stopped the SA without a Delete; its snapshot (key material: TLS beyond loopback).</summary>
public sealed record Released(ulong Spi, long Epoch, byte[] Snapshot) : IClusterMessage;

/// <summary>The asked node's answer: it holds the SA but the proof did not authenticate (<paramref name="Held"/>; the SA
/// stays where it is), or it does not hold the SA (any more).</summary>
public sealed record ReleaseRefused(ulong Spi, bool Held) : IClusterMessage;

/// <summary>
/// To the holder's mobility actor: a new login of the user of SA <paramref name="Spi"/> on the sender makes it a duplicate
/// under the connection's unique policy: delete it with its peer, or with <paramref name="Silent"/> (the peer's
/// INITIAL_CONTACT) close it without a Delete.
/// </summary>
public sealed record DuplicateDelete(ulong Spi, bool Silent) : IClusterMessage;

/// <summary>
/// Binary form of the <see cref="IClusterMessage"/>s: u64 SPI, then a release request's u8 flags and u32-length proof,
/// a release's i64 epoch and u32-length snapshot, a refusal's u8 held, a duplicate deletion's u8 silent. Bytes from the
/// wire are untrusted: anything else is refused.
/// </summary>
public sealed class ClusterMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4140;

    /// <summary>The largest proof or snapshot accepted: an IKE datagram or ESP packet, a snapshot of many children.</summary>
    private const int MaxBytes = 1 << 20;

    private const string RequestManifest = "q", ReleasedManifest = "r", RefusedManifest = "n", DuplicateManifest = "u";

    /// <summary>The HOCON that binds <see cref="IClusterMessage"/> to this serializer.</summary>
    public static string Hocon => $$"""
        akka.actor.serializers.concentrator-cluster = "{{ClusterSettings.TypeName(typeof(ClusterMessageSerializer))}}"
        akka.actor.serialization-bindings."{{ClusterSettings.TypeName(typeof(IClusterMessage))}}" = concentrator-cluster
        akka.actor.serialization-identifiers."{{ClusterSettings.TypeName(typeof(ClusterMessageSerializer))}}" = {{Id}}
        """;

    public override int Identifier => Id;

    public override string Manifest(object o) => o switch
    {
        ReleaseRequest => RequestManifest,
        Released => ReleasedManifest,
        ReleaseRefused => RefusedManifest,
        DuplicateDelete => DuplicateManifest,
        _ => throw new SerializationException($"{o.GetType().Name} is not a cluster message"),
    };

    public override byte[] ToBinary(object obj)
    {
        switch (obj)
        {
            case ReleaseRequest q:
            {
                var buffer = new byte[8 + 1 + 4 + q.Proof.Length];
                var w = new SpanWriter(buffer);
                w.WriteUInt64(q.Spi);
                w.WriteUInt8(q.EspProof ? (byte)1 : (byte)0);
                w.WriteUInt32((uint)q.Proof.Length);
                w.WriteBytes(q.Proof);
                return buffer;
            }
            case Released r:
            {
                var buffer = new byte[8 + 8 + 4 + r.Snapshot.Length];
                var w = new SpanWriter(buffer);
                w.WriteUInt64(r.Spi);
                w.WriteUInt64((ulong)r.Epoch);
                w.WriteUInt32((uint)r.Snapshot.Length);
                w.WriteBytes(r.Snapshot);
                return buffer;
            }
            case ReleaseRefused n:
            {
                var buffer = new byte[8 + 1];
                var w = new SpanWriter(buffer);
                w.WriteUInt64(n.Spi);
                w.WriteUInt8(n.Held ? (byte)1 : (byte)0);
                return buffer;
            }
            case DuplicateDelete d:
            {
                var buffer = new byte[8 + 1];
                var w = new SpanWriter(buffer);
                w.WriteUInt64(d.Spi);
                w.WriteUInt8(d.Silent ? (byte)1 : (byte)0);
                return buffer;
            }
            default:
                throw new SerializationException($"{obj.GetType().Name} is not a cluster message");
        }
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var r = new SpanReader(bytes);
        if (!r.TryReadUInt64(out var spi)) throw Refused(manifest);
        object message;
        switch (manifest)
        {
            case RequestManifest:
                if (!r.TryReadUInt8(out var flags) || flags > 1 || !TryReadTail(ref r, out var proof)) throw Refused(manifest);
                message = new ReleaseRequest(spi, flags == 1, proof);
                break;
            case ReleasedManifest:
                if (!r.TryReadUInt64(out var epoch) || !TryReadTail(ref r, out var snapshot)) throw Refused(manifest);
                message = new Released(spi, (long)epoch, snapshot);
                break;
            case RefusedManifest:
                if (!r.TryReadUInt8(out var held) || held > 1) throw Refused(manifest);
                message = new ReleaseRefused(spi, held == 1);
                break;
            case DuplicateManifest:
                if (!r.TryReadUInt8(out var silent) || silent > 1) throw Refused(manifest);
                message = new DuplicateDelete(spi, silent == 1);
                break;
            default:
                throw Refused(manifest);
        }
        return r.Remaining == 0 ? message : throw Refused(manifest);
    }

    private static bool TryReadTail(ref SpanReader r, out byte[] bytes)
    {
        bytes = [];
        if (!r.TryReadUInt32(out var length) || length > MaxBytes || !r.TryReadBytes((int)length, out var span)) return false;
        bytes = span.ToArray();
        return true;
    }

    private static SerializationException Refused(string manifest) => new($"malformed cluster message (manifest '{manifest}')");
}

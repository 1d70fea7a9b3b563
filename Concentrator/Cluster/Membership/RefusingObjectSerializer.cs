using System.Runtime.Serialization;
using Akka.Actor;

namespace Concentrator.Cluster.Membership;

/// <summary>
/// Takes the place of Akka's default object serializer (Newtonsoft JSON, identifier 1, bound to System.Object) on a
/// cluster node. What crosses remoting is Akka's own protocol (its protobuf serializers) and the few messages the
/// replication layer declares for it (their own binary serializer); every other message is refused both ways. So no
/// party that reaches the remoting port can hand an actor a message meant to come from its own node (delete every SA,
/// fence one, adopt one), and no bytes from the wire make Newtonsoft instantiate a type they name.
/// </summary>
public sealed class RefusingObjectSerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    /// <summary>Akka passes the replaced serializer's settings section (serialization-settings.json); there are none to read.</summary>
    public RefusingObjectSerializer(ExtendedActorSystem system, Akka.Configuration.Config settings) : this(system)
    {
    }

    /// <summary>The identifier of the serializer it replaces, so that remote messages claiming it land here.</summary>
    public const int Id = 1;

    public override int Identifier => Id;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"{obj?.GetType().Name ?? "null"} is not a message that crosses remoting between cluster nodes");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new SerializationException("refused a remote message without a serializer of its own (only cluster messages cross remoting)");
}

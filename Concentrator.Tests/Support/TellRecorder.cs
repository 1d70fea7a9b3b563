using System.Collections.Concurrent;
using Akka.Actor;

namespace Concentrator.Tests.Support;

/// <summary>Stands in for an actor: keeps every message it is told, in order, from any thread.</summary>
internal sealed class TellRecorder : ICanTell
{
    public ConcurrentQueue<object> Messages { get; } = new();

    public void Tell(object message, IActorRef sender) => Messages.Enqueue(message);

    public IReadOnlyList<T> Of<T>() => Messages.OfType<T>().ToList();
}

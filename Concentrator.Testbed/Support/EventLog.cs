using System.Collections.Concurrent;
using Akka.Actor;
using Concentrator.Actors;

namespace Concentrator.Testbed.Support;

/// <summary>Records IkeSaUp/IkeSaDown events of one ActorSystem for assertions.</summary>
public sealed class EventLog
{
    public ConcurrentQueue<IkeSaUp> Up { get; } = new();
    public ConcurrentQueue<IkeSaDown> Down { get; } = new();

    public static EventLog Attach(ActorSystem system)
    {
        var log = new EventLog();
        var actor = system.ActorOf(Props.Create(() => new Recorder(log)));
        system.EventStream.Subscribe(actor, typeof(IkeSaUp));
        system.EventStream.Subscribe(actor, typeof(IkeSaDown));
        return log;
    }

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(EventLog log)
        {
            Receive<IkeSaUp>(m => log.Up.Enqueue(m));
            Receive<IkeSaDown>(m => log.Down.Enqueue(m));
        }
    }
}

using System.Net;
using Akka.Actor;
using Concentrator.Actors;

namespace Concentrator.Tests.Actors;

/// <summary>
/// The supervisor's books find a login's duplicates (INITIAL_CONTACT, unique) by user through an index, not a scan of
/// every established SA: the index follows registrations, rekeyed SPIs, re-registrations and stopped actors.
/// </summary>
public sealed class SaDirectoryTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("sa-directory-tests");

    public void Dispose() => _system.Dispose();

    private static SaDirectory.SaUser User(string user, string address = "192.0.2.1") =>
        new("conn", "gw.test", user, new IPEndPoint(IPAddress.Parse(address), 4500));

    private static ulong[] Spis(List<(ulong Spi, IActorRef Actor, SaDirectory.SaUser User)> found) => found.Select(f => f.Spi).Order().ToArray();

    [Fact]
    public void Duplicates_follow_registration_rekey_re_registration_and_removal()
    {
        var directory = new SaDirectory();
        var a = _system.ActorOf(Props.Empty, "a");
        var b = _system.ActorOf(Props.Empty, "b");
        var c = _system.ActorOf(Props.Empty, "c");
        var d = _system.ActorOf(Props.Empty, "d");
        directory.Register(1, a);
        directory.Register(2, b);
        directory.Register(3, c);
        directory.Register(4, d);
        directory.Established(1, User("alice"));
        directory.Established(2, User("alice", "198.51.100.9"));
        directory.Established(3, User("bob"));
        directory.Established(4, User("alice", "2001:db8::1"));

        Assert.Equal([1UL, 2UL], Spis(directory.DuplicatesOf(User("alice", "203.0.113.5"), except: null)));
        Assert.Equal([2UL], Spis(directory.DuplicatesOf(User("alice"), except: a)));
        Assert.Equal([4UL], Spis(directory.DuplicatesOf(User("alice", "2001:db8::2"), except: null)));
        Assert.Equal([3UL], Spis(directory.DuplicatesOf(User("bob"), except: null)));
        Assert.Empty(directory.DuplicatesOf(User("carol"), except: null));

        // An IKE rekey: the tunnel's entry moves to the successor's SPI when the predecessor retires.
        directory.AddSpi(a, 5);
        directory.RetireSpi(a, 1);
        Assert.Equal([2UL, 5UL], Spis(directory.DuplicatesOf(User("alice"), except: null)));
        Assert.Equal("alice", directory.DuplicatesOf(User("alice"), except: b).Single().User.User);

        // Registered again under another user: no longer alice's.
        directory.Established(5, User("bob"));
        Assert.Equal([2UL], Spis(directory.DuplicatesOf(User("alice"), except: null)));
        Assert.Equal([3UL, 5UL], Spis(directory.DuplicatesOf(User("bob"), except: null)));

        directory.Remove(b, _ => { });
        directory.Remove(c, _ => { });
        Assert.Empty(directory.DuplicatesOf(User("alice"), except: null));
        Assert.Equal([5UL], Spis(directory.DuplicatesOf(User("bob"), except: null)));
        Assert.Equal([4UL], Spis(directory.DuplicatesOf(User("alice", "2001:db8::2"), except: null)));
    }
}

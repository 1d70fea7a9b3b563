using Akka.Actor;
using Akka.Cluster;
using Concentrator.Telemetry;

namespace Concentrator.Cluster.Membership;

/// <summary>
/// Follows member and reachability events: logs them, keeps <c>concentrator_cluster_members{status}</c> and
/// <c>concentrator_cluster_unreachable_members</c> current, and tells the <see cref="ClusterNode"/> when this node is Up.
/// </summary>
internal sealed class ClusterMonitor : ReceiveActor
{
    private readonly ClusterNode _node;
    private readonly ConcentratorMetrics _metrics;
    private readonly ILogger _log;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Dictionary<UniqueAddress, MemberStatus> _members = new();
    private readonly HashSet<UniqueAddress> _unreachable = new();

    public ClusterMonitor(ClusterNode node, ConcentratorMetrics metrics, ILogger log)
    {
        _node = node;
        _metrics = metrics;
        _log = log;
        Receive<ClusterEvent.IMemberEvent>(OnMember);
        Receive<ClusterEvent.UnreachableMember>(e =>
        {
            _unreachable.Add(e.Member.UniqueAddress);
            Log.ClusterMemberUnreachable(_log, e.Member.Address.ToString());
            Publish();
        });
        Receive<ClusterEvent.ReachableMember>(e =>
        {
            _unreachable.Remove(e.Member.UniqueAddress);
            Log.ClusterMemberReachable(_log, e.Member.Address.ToString());
            Publish();
        });
    }

    public static Props Props(ClusterNode node, ConcentratorMetrics metrics, ILogger log) =>
        Akka.Actor.Props.Create(() => new ClusterMonitor(node, metrics, log));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void OnMember(ClusterEvent.IMemberEvent e)
    {
        var member = e.Member;
        if (e is ClusterEvent.MemberRemoved)
        {
            _members.Remove(member.UniqueAddress);
            _unreachable.Remove(member.UniqueAddress);
        }
        else
        {
            _members[member.UniqueAddress] = member.Status;
        }
        var status = StatusLabel(member.Status);
        Log.ClusterMemberChanged(_log, member.Address.ToString(), status);
        if (member.UniqueAddress.Equals(_cluster.SelfUniqueAddress))
        {
            bool up = member.Status == MemberStatus.Up;
            if (up) Log.ClusterSelfUp(_log, member.Address.ToString());
            _node.SetSelfUp(up);
        }
        Publish();
    }

    private void Publish()
    {
        foreach (var status in ConcentratorMetrics.ClusterMemberStatuses)
        {
            int count = 0;
            foreach (var s in _members.Values)
            {
                if (StatusLabel(s) == status) count++;
            }
            _metrics.SetClusterMembers(status, count);
        }
        _metrics.SetClusterUnreachable(_unreachable.Count);
    }

    internal static string StatusLabel(MemberStatus status) => status switch
    {
        MemberStatus.Joining => "joining",
        MemberStatus.WeaklyUp => "weakly_up",
        MemberStatus.Up => "up",
        MemberStatus.Leaving => "leaving",
        MemberStatus.Exiting => "exiting",
        MemberStatus.Down => "down",
        _ => "removed",
    };
}

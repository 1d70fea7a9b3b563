using System.Net;
using System.Text;
using Concentrator.Ike.Connections;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>
/// <see cref="XauthServer"/> driven by a scripted client whose Attribute payloads cross the codec (written, then parsed
/// as the gateway parses a decrypted Transaction message), and <see cref="XauthSecrets"/> against swanctl secrets.
/// </summary>
public sealed class XauthServerTests
{
    private static readonly Identity Device = Identity.Parse("client.example.net");
    private static readonly Identity Gateway = Identity.Parse("gw.example.net");

    /// <summary>What the gateway's resolver holds: alice's password (secrets.xauth-alice).</summary>
    private sealed class Secrets : IConnectionResolver
    {
        public IReadOnlyList<ConnectionConfig> FindCandidates(IPEndPoint local, IPEndPoint remote) => [];
        public byte[]? FindSharedKey(Identity local, Identity remote) => null;
        public byte[]? FindEapSecret(Identity local, Identity user) => user.Equals(Identity.Parse("alice")) ? "alice-pw"u8.ToArray() : null;
    }

    private sealed class Clock
    {
        public long Now { get; set; } = 5_000;
    }

    /// <summary>The payload as the peer's bytes: written by the codec and parsed back.</summary>
    internal static AttributePayload Wire(AttributePayload payload)
    {
        var body = new byte[payload.BodyLength];
        var writer = new SpanWriter(body);
        payload.WriteBody(ref writer);
        Assert.Equal(ParseStatus.Ok, AttributePayload.TryParse(body, out var parsed));
        return parsed!;
    }

    private static AttributePayload Reply(ushort id, params DataAttribute[] attributes) => Wire(new AttributePayload(CfgMessageType.Reply, id, attributes));

    private static DataAttribute Name(string text) => DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserName, Encoding.UTF8.GetBytes(text));

    private static DataAttribute Password(string text) => DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserPassword, Encoding.UTF8.GetBytes(text));

    private static (XauthServer Server, Clock Clock) Start(Identity? allowed = null)
    {
        var clock = new Clock();
        var server = new XauthServer(Device, allowed, 0x1234) { Clock = () => clock.Now };
        var request = Wire(server.BuildRequest());
        Assert.Equal(CfgMessageType.Request, request.MessageType);
        Assert.Equal(0x1234, request.Identifier);
        Assert.Equal([(ushort)CfgAttributeType.XauthType, (ushort)CfgAttributeType.XauthUserName, (ushort)CfgAttributeType.XauthUserPassword],
            request.Attributes.Select(a => a.Type));
        Assert.Equal(XauthState.RequestSent, server.State);
        return (server, clock);
    }

    private static ushort Status(AttributePayload set)
    {
        var parsed = Wire(set);
        Assert.Equal(CfgMessageType.Set, parsed.MessageType);
        var status = Assert.Single(parsed.Attributes);
        Assert.Equal((ushort)CfgAttributeType.XauthStatus, status.Type);
        Assert.True(status.Basic);
        return status.BasicValue;
    }

    private static AttributePayload Ack(ushort id) =>
        Wire(new AttributePayload(CfgMessageType.Ack, id, [DataAttribute.OfVariable((ushort)CfgAttributeType.XauthStatus, [])]));

    [Fact]
    public void The_right_password_gets_status_1_and_the_ack_authenticates_the_user()
    {
        var (server, _) = Start();
        var credentials = server.ProcessReply(Reply(0x1234, Name("alice"), Password("alice-pw")))!;
        Assert.Equal(XauthState.Verifying, server.State);
        Assert.Equal(Identity.Parse("alice"), credentials.User);
        bool ok = XauthSecrets.Verify(new Secrets(), Gateway, credentials);
        Assert.True(ok);
        Assert.Equal(1, Status(server.Verified(ok)));
        Assert.Equal(XauthState.StatusSent, server.State);
        Assert.Equal(XauthState.Succeeded, server.ProcessAck(Ack(0x1234)));
        Assert.Null(server.Failure);
        Assert.Equal(Identity.Parse("alice"), server.User);
    }

    [Theory]
    [InlineData("alice", "wrong")]
    [InlineData("alice", "alice-pw-")]
    [InlineData("alice", "alice-p")]
    [InlineData("alice", "")]
    [InlineData("bob", "alice-pw")]
    public void A_wrong_password_or_unknown_user_gets_status_0_and_fails_after_the_ack(string user, string password)
    {
        var (server, _) = Start();
        var credentials = server.ProcessReply(Reply(0x1234, Name(user), Password(password)))!;
        bool ok = XauthSecrets.Verify(new Secrets(), Gateway, credentials);
        Assert.False(ok);
        Assert.Equal(0, Status(server.Verified(ok)));
        Assert.Equal(XauthState.Failed, server.ProcessAck(Ack(0x1234)));
        Assert.Equal(XauthFailure.WrongPassword, server.Failure);
    }

    [Fact]
    public void A_nul_terminated_password_is_the_password()
    {
        var (server, _) = Start();
        var credentials = server.ProcessReply(Reply(0x1234, Name("alice"), DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserPassword, [.. "alice-pw"u8, 0])))!;
        Assert.True(XauthSecrets.Verify(new Secrets(), Gateway, credentials));
    }

    [Fact]
    public void An_empty_user_name_is_the_phase_1_identity()
    {
        var (server, _) = Start();
        var credentials = server.ProcessReply(Reply(0x1234, Name(""), Password("x")))!;
        Assert.Equal(Device, credentials.User);
    }

    [Fact]
    public void The_remote_rounds_xauth_id_limits_the_users()
    {
        var (server, _) = Start(allowed: Identity.Parse("alice"));
        Assert.Null(server.ProcessReply(Reply(0x1234, Name("bob"), Password("alice-pw"))));
        Assert.Equal(XauthState.StatusSent, server.State);
        Assert.Equal(0, Status(server.BuildStatus()));
        Assert.Equal(XauthState.Failed, server.ProcessAck(Ack(0x1234)));
        Assert.Equal(XauthFailure.UserNotAllowed, server.Failure);

        (server, _) = Start(allowed: Identity.Parse("alice"));
        Assert.NotNull(server.ProcessReply(Reply(0x1234, Name("alice"), Password("alice-pw"))));
    }

    public static TheoryData<string, DataAttribute[]> MalformedReplies => new()
    {
        { "no password", [Name("alice")] },
        { "no user name", [Password("alice-pw")] },
        { "nothing", [] },
        { "user name twice", [Name("alice"), Name("bob"), Password("alice-pw")] },
        { "password twice", [Name("alice"), Password("x"), Password("alice-pw")] },
        { "user name as a basic attribute", [DataAttribute.OfBasic((ushort)CfgAttributeType.XauthUserName, 0x6162), Password("alice-pw")] },
        { "password as a basic attribute", [Name("alice"), DataAttribute.OfBasic((ushort)CfgAttributeType.XauthUserPassword, 1)] },
        { "user name of 254 octets", [Name(new string('a', 254)), Password("alice-pw")] },
        { "password of 130 octets", [Name("alice"), Password(new string('p', 130))] },
        { "password of 129 octets without NUL", [Name("alice"), Password(new string('p', 129))] },
        { "user name not UTF-8", [DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserName, [0x61, 0xC3, 0x28]), Password("alice-pw")] },
        { "user name with a control character", [Name("ali\nce"), Password("alice-pw")] },
    };

    [Theory]
    [MemberData(nameof(MalformedReplies))]
    public void A_malformed_reply_gets_status_0_without_verification(string what, DataAttribute[] attributes)
    {
        var (server, _) = Start();
        Assert.True(server.ProcessReply(Reply(0x1234, attributes)) is null, what);
        Assert.Equal(XauthState.StatusSent, server.State);
        Assert.Equal(XauthFailure.MalformedReply, server.Failure);
        Assert.Equal(0, Status(server.BuildStatus()));
        Assert.Equal(XauthState.Failed, server.ProcessAck(Ack(0x1234)));
    }

    [Fact]
    public void A_password_of_128_octets_plus_a_nul_is_taken()
    {
        var (server, _) = Start();
        var password = DataAttribute.OfVariable((ushort)CfgAttributeType.XauthUserPassword, [.. Enumerable.Repeat((byte)'p', 128), 0]);
        Assert.Equal(128, server.ProcessReply(Reply(0x1234, Name("alice"), password))!.Password.Length);
    }

    [Fact]
    public void A_reply_before_our_request_fails_and_builds_nothing()
    {
        var server = new XauthServer(Device, null, 7);
        Assert.Null(server.ProcessReply(Reply(7, Name("alice"), Password("alice-pw"))));
        Assert.Equal(XauthState.Failed, server.State);
        Assert.Equal(XauthFailure.UnexpectedMessage, server.Failure);
        Assert.Throws<InvalidOperationException>(() => server.BuildRequest());
        Assert.Throws<InvalidOperationException>(() => server.Verified(true));
    }

    [Theory]
    [InlineData(CfgMessageType.Request)]
    [InlineData(CfgMessageType.Set)]
    [InlineData(CfgMessageType.Ack)]
    public void Another_message_than_a_reply_to_our_request_fails(CfgMessageType type)
    {
        var (server, _) = Start();
        Assert.Null(server.ProcessReply(Wire(new AttributePayload(type, 0x1234, [Name("alice"), Password("alice-pw")]))));
        Assert.Equal(XauthState.Failed, server.State);
        Assert.Equal(XauthFailure.UnexpectedMessage, server.Failure);
    }

    [Fact]
    public void A_reply_instead_of_the_ack_fails_even_after_the_right_password()
    {
        var (server, _) = Start();
        server.ProcessReply(Reply(0x1234, Name("alice"), Password("alice-pw")));
        server.Verified(true);
        Assert.Equal(XauthState.Failed, server.ProcessAck(Reply(0x1234, Name("alice"), Password("alice-pw"))));
        Assert.Equal(XauthFailure.UnexpectedMessage, server.Failure);
    }

    [Fact]
    public void A_late_duplicate_after_success_changes_nothing()
    {
        var (server, _) = Start();
        server.ProcessReply(Reply(0x1234, Name("alice"), Password("alice-pw")));
        server.Verified(true);
        server.ProcessAck(Ack(0x1234));
        Assert.Null(server.ProcessReply(Reply(0x1234, Name("alice"), Password("x"))));
        Assert.Equal(XauthState.Succeeded, server.ProcessAck(Ack(0x1234)));
        Assert.Null(server.Failure);
        Assert.False(server.CheckTimeout());
    }

    [Fact]
    public void A_client_that_never_answers_or_never_acknowledges_times_out()
    {
        var (server, clock) = Start();
        clock.Now += (long)XauthServer.Timeout.TotalMilliseconds - 1;
        Assert.False(server.CheckTimeout());
        clock.Now += 1;
        Assert.True(server.CheckTimeout());
        Assert.Equal(XauthState.Failed, server.State);
        Assert.Equal(XauthFailure.Timeout, server.Failure);

        (server, clock) = Start();
        server.ProcessReply(Reply(0x1234, Name("alice"), Password("alice-pw")));
        server.Verified(true);
        clock.Now += (long)XauthServer.Timeout.TotalMilliseconds;
        Assert.True(server.CheckTimeout());
        Assert.Equal(XauthState.Failed, server.ProcessAck(Ack(0x1234)));
        Assert.Equal(XauthFailure.Timeout, server.Failure);
    }

    [Fact]
    public void The_verifier_failing_ends_the_exchange()
    {
        var (server, _) = Start();
        server.ProcessReply(Reply(0x1234, Name("alice"), Password("alice-pw")));
        server.Abort(XauthFailure.VerifierUnavailable);
        Assert.Equal(XauthState.Failed, server.State);
        Assert.Equal(XauthFailure.VerifierUnavailable, server.Failure);
    }

    [Fact]
    public void Hostile_attribute_lengths_never_reach_the_server()
    {
        // A user name attribute claiming 0xFFFF octets in a 16-octet body, and one cut in its header.
        byte[] lie = [(byte)CfgMessageType.Reply, 0, 0x12, 0x34, 0x40, 0x89, 0xFF, 0xFF, (byte)'a', (byte)'l', (byte)'i', (byte)'c', (byte)'e', 0, 0, 0];
        Assert.Equal(ParseStatus.BadLength, AttributePayload.TryParse(lie, out _));
        byte[] cut = [(byte)CfgMessageType.Reply, 0, 0x12, 0x34, 0x40, 0x89, 0x00];
        Assert.NotEqual(ParseStatus.Ok, AttributePayload.TryParse(cut, out _));
    }
}

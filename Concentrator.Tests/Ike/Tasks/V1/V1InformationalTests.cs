using System.Buffers.Binary;
using Concentrator.Ike.Tasks.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Crypto.Hex;

namespace Concentrator.Tests.Ike.Tasks.V1;

/// <summary>
/// What a received informational asks of its phase 1 SA (<see cref="V1InformationalTask"/>, pure): Deletes,
/// Notifications and DPD notifies, and what an unauthenticated or hostile one may not do. The HASH protection and the
/// SA's side are in <see cref="V1InformationalSaTests"/>.
/// </summary>
public class V1InformationalTests
{
    private const ulong ICookie = 0x0102030405060708, RCookie = 0x1112131415161718;
    private static byte[] Spi(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return b;
    }

    // Child SAs of the SA under test: inbound 0xA1 with outbound 0xB1, inbound 0xA2 with outbound 0xB2.
    private static uint? Children(V1ProtocolId protocol, uint spi, bool inbound) => (protocol, spi, inbound) switch
    {
        (V1ProtocolId.Esp, 0xA1, true) or (V1ProtocolId.Esp, 0xB1, false) => 0xA1,
        (V1ProtocolId.Esp, 0xA2, true) or (V1ProtocolId.Esp, 0xB2, false) => 0xA2,
        _ => null,
    };

    private static V1InfoContext Context(bool established = true, V1DpdState? dpd = null) =>
        new(ICookie, RCookie, established, dpd ?? new V1DpdState(100) { PeerSupports = true }, Children);

    [Fact]
    public void An_isakmp_delete_ends_the_sa_only_with_both_of_its_cookies()
    {
        var ours = new V1DeletePayload(V1ProtocolId.Isakmp, [V1Informational.IsakmpSpi(ICookie, RCookie)]);
        var other = new V1DeletePayload(V1ProtocolId.Isakmp, [V1Informational.IsakmpSpi(ICookie, RCookie + 1)]);
        var swapped = new V1DeletePayload(V1ProtocolId.Isakmp, [V1Informational.IsakmpSpi(RCookie, ICookie)]);

        var outcome = V1InformationalTask.Process([other, swapped], authenticated: true, Context());
        Assert.False(outcome.DeleteIsakmp);
        Assert.Equal(2, outcome.ForeignIsakmpDeletes);

        Assert.True(V1InformationalTask.Process([other, ours], authenticated: true, Context()).DeleteIsakmp);
        Assert.False(V1InformationalTask.Process([ours], authenticated: false, Context(established: false)).DeleteIsakmp);
    }

    [Fact]
    public void A_child_delete_finds_our_inbound_spi_then_our_outbound_one_and_counts_unknown_spis()
    {
        var delete = new V1DeletePayload(V1ProtocolId.Esp, [Spi(0xB1), Spi(0xA2), Spi(0xC3), Spi(0xA1)]);
        var outcome = V1InformationalTask.Process([delete, new V1DeletePayload(V1ProtocolId.Ah, [Spi(0xA1)])], authenticated: true, Context());
        Assert.Equal([0xA1u, 0xA2u], outcome.DeletedChildren);
        Assert.Equal(2, outcome.UnknownSpis); // 0xC3, and the AH SPI no child has
        Assert.False(outcome.DeleteIsakmp);

        var unprotected = V1InformationalTask.Process([delete], authenticated: false, Context(established: false));
        Assert.Empty(unprotected.DeletedChildren);
        Assert.Equal(1, unprotected.IgnoredUnprotected);
    }

    [Fact]
    public void Error_notifies_are_listed_once_per_kind_and_end_only_a_main_mode_in_progress()
    {
        var noProposal = new V1NotificationPayload(V1NotifyType.NoProposalChosen);
        var payloadType = new V1NotificationPayload(V1NotifyType.InvalidPayloadType);
        var during = V1InformationalTask.Process([noProposal, payloadType, noProposal], authenticated: false, Context(established: false));
        Assert.Equal([V1NotifyType.NoProposalChosen, V1NotifyType.InvalidPayloadType], during.Errors);
        Assert.True(during.FailPhase1);
        Assert.False(during.CancelQuickMode);

        var after = V1InformationalTask.Process([noProposal], authenticated: true, Context());
        Assert.False(after.FailPhase1);
        Assert.True(after.CancelQuickMode);
        Assert.False(V1InformationalTask.Process([new V1NotificationPayload(V1NotifyType.AuthenticationFailed)], true, Context()).CancelQuickMode);
        // Established and in the clear: nothing at all (the host drops such a message before; this is the second line).
        Assert.False(V1InformationalTask.Process([noProposal], authenticated: false, Context()).FailPhase1);
    }

    [Fact]
    public void Initial_contact_counts_only_when_authenticated()
    {
        var ic = new V1NotificationPayload(V1NotifyType.InitialContact, V1ProtocolId.Isakmp, V1Informational.IsakmpSpi(ICookie, RCookie));
        Assert.True(V1InformationalTask.Process([ic], authenticated: true, Context()).InitialContact);
        var unprotected = V1InformationalTask.Process([ic], authenticated: false, Context(established: false));
        Assert.False(unprotected.InitialContact);
        Assert.Equal(1, unprotected.IgnoredUnprotected);
    }

    [Fact]
    public void A_peer_r_u_there_is_always_answered_but_only_in_sequence_it_moves_state()
    {
        var dpd = new V1DpdState(100) { PeerSupports = true };
        V1InfoOutcome Ru(uint seq) =>
            V1InformationalTask.Process([V1DpdState.Notify(V1NotifyType.DpdRUThere, ICookie, RCookie, seq),
                new V1DeletePayload(V1ProtocolId.Isakmp, [V1Informational.IsakmpSpi(ICookie, RCookie)])], true, Context(dpd: dpd));

        var first = Ru(5000);
        Assert.Equal(5000u, first.AckSequence);
        Assert.True(first.RuThereInSequence && first.ProvesLiveness);
        Assert.False(first.DeleteIsakmp); // a message with a DPD notify is DPD only, as charon reads it
        var replay = Ru(5000);
        Assert.Equal(5000u, replay.AckSequence);
        Assert.False(replay.RuThereInSequence || replay.ProvesLiveness);
        Assert.True(Ru(5001).RuThereInSequence);
        Assert.False(Ru(4999).RuThereInSequence);
        Assert.True(Ru(5002).RuThereInSequence);

        // Unauthenticated: not even answered.
        Assert.Null(V1InformationalTask.Process([V1DpdState.Notify(V1NotifyType.DpdRUThere, ICookie, RCookie, 5003)], false, Context(false, dpd)).AckSequence);
        // Data of another length is no DPD notify.
        var odd = new V1NotificationPayload(V1NotifyType.DpdRUThere, V1ProtocolId.Isakmp, V1Informational.IsakmpSpi(ICookie, RCookie), [1, 2, 3]);
        Assert.Null(V1InformationalTask.Process([odd], true, Context(dpd: dpd)).AckSequence);
    }

    [Fact]
    public void An_ack_counts_only_with_the_number_of_our_outstanding_probe()
    {
        var dpd = new V1DpdState(700) { PeerSupports = true };
        V1InfoOutcome Ack(uint seq) =>
            V1InformationalTask.Process([V1DpdState.Notify(V1NotifyType.DpdRUThereAck, ICookie, RCookie, seq)], true, Context(dpd: dpd));

        Assert.False(Ack(700).AckMatched); // nothing outstanding yet
        Assert.Equal(V1DpdStep.Probe, dpd.Tick(10_000, 0, false, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(6)));
        var wrong = Ack(699);
        Assert.False(wrong.AckMatched);
        Assert.False(wrong.ProvesLiveness);
        Assert.True(dpd.Outstanding);
        Assert.True(Ack(700).AckMatched);
        Assert.Equal(701u, dpd.OutstandingSequence);
        Assert.False(Ack(700).AckMatched); // a replayed ACK
    }

    [Fact]
    public void Our_teardown_deletes_each_child_then_the_isakmp_sa()
    {
        var messages = V1Informational.TeardownDeletes(ICookie, RCookie, [(V1ProtocolId.Esp, 0xA1u), (V1ProtocolId.Esp, 0xA2u)]);
        Assert.Equal(3, messages.Count);
        Assert.Equal(Spi(0xA1), ((V1DeletePayload)messages[0][0]).Spis[0]);
        Assert.Equal(Spi(0xA2), ((V1DeletePayload)messages[1][0]).Spis[0]);
        var isakmp = (V1DeletePayload)messages[2][0];
        Assert.Equal(V1ProtocolId.Isakmp, isakmp.Protocol);
        Assert.Equal(B("0102030405060708 1112131415161718"), isakmp.Spis[0]);
        // What we send is what a peer's task reads back as ours.
        Assert.True(V1InformationalTask.Process(messages[2], true, Context()).DeleteIsakmp);
    }

    [Fact]
    public void Our_failures_are_told_with_the_matching_notify_but_never_in_answer_to_an_informational()
    {
        Assert.Equal(V1NotifyType.NoProposalChosen, V1Informational.ErrorNotify(CloseReason.NoProposal).NotifyType);
        Assert.Equal(V1NotifyType.AuthenticationFailed, V1Informational.ErrorNotify(CloseReason.AuthFailed).NotifyType);
        Assert.Equal(V1NotifyType.InvalidIdInformation, V1Informational.ErrorNotify(CloseReason.TsUnacceptable).NotifyType);
        Assert.Equal(V1NotifyType.PayloadMalformed, V1Informational.ErrorNotify(CloseReason.InvalidSyntax).NotifyType);
        Assert.False(V1Informational.AnswersWithNotify(V1ExchangeType.Informational));
        Assert.True(V1Informational.AnswersWithNotify(V1ExchangeType.IdentityProtection));
        Assert.True(V1Informational.AnswersWithNotify(V1ExchangeType.QuickMode));
    }

    [Fact]
    public void Hostile_chains_of_notifies_and_deletes_never_throw_and_unauthenticated_ones_move_nothing()
    {
        var random = new Random(19);
        V1NotifyType[] kinds = [V1NotifyType.DpdRUThere, V1NotifyType.DpdRUThereAck, V1NotifyType.InitialContact, V1NotifyType.NoProposalChosen,
            V1NotifyType.InvalidIdInformation, V1NotifyType.Connected, (V1NotifyType)9000];
        byte[] Bytes(int n) { var b = new byte[n]; random.NextBytes(b); return b; }
        V1Payload Next() => random.Next(3) switch
        {
            0 => new V1NotificationPayload(kinds[random.Next(kinds.Length)], V1ProtocolId.Isakmp,
                random.Next(2) == 0 ? V1Informational.IsakmpSpi(ICookie, RCookie) : Bytes(16), Bytes(random.Next(0, 6))),
            1 => new V1DeletePayload(V1ProtocolId.Isakmp, [random.Next(2) == 0 ? V1Informational.IsakmpSpi(ICookie, RCookie) : Bytes(16)]),
            _ => new V1DeletePayload(random.Next(2) == 0 ? V1ProtocolId.Esp : V1ProtocolId.Ah,
                Enumerable.Range(0, random.Next(1, 5)).Select(_ => random.Next(2) == 0 ? Spi((uint)random.Next(0xA0, 0xB3)) : Bytes(4)).ToList()),
        };
        int parsed = 0;
        for (int i = 0; i < 5_000; i++)
        {
            var sent = Enumerable.Range(0, random.Next(1, 5)).Select(_ => Next()).ToList();
            byte[] chain = IsakmpCodec.EncodeChain(sent);
            if (random.Next(2) == 0) chain[random.Next(chain.Length)] ^= (byte)(1 << random.Next(8));
            var payloads = new List<V1Payload>();
            if (IsakmpCodec.TryDecodeChain(sent[0].Type, chain, allowPadding: true, payloads) != ParseStatus.Ok) continue;
            parsed++;
            var dpd = new V1DpdState(0xA1) { PeerSupports = true };
            V1InformationalTask.Process(payloads, authenticated: true, Context(dpd: dpd));
            var unauthenticated = V1InformationalTask.Process(payloads, authenticated: false, Context(established: false, dpd));
            Assert.True(unauthenticated is { DeleteIsakmp: false, InitialContact: false, AckSequence: null, AckMatched: null, CancelQuickMode: false });
            Assert.Empty(unauthenticated.DeletedChildren);
        }
        Assert.True(parsed > 2_500, $"only {parsed} chains parsed: the generator no longer reaches the task");
    }
}

using Concentrator.Fuzz;
using Concentrator.Ike.Sa.V1;
using Concentrator.Ike.Wire.V1;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Fuzz;

/// <summary>
/// The IKEv1 fuzz targets' seeds reach past decryption (otherwise the campaign only fuzzes the rejection path), and
/// the targets' own crash conditions fire where they should.
/// </summary>
public sealed class IkeV1FuzzTargetTests
{
    private static List<(string Name, byte[] Data)> Corpus(string target) =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "FuzzCorpus", "corpus", target)).Order(StringComparer.Ordinal)
            .Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))).ToList();

    [Fact]
    public void Protect_seeds_decrypt_to_chains_that_parse()
    {
        var corpus = Corpus(FuzzTargets.IkeV1Protect);
        Assert.Equal(4, corpus.Count);
        foreach (var (name, data) in corpus)
        {
            var datagram = new byte[V1Constants.HeaderLength + data.Length - 2];
            IkeV1ProtectTarget.Header(data[0], (V1PayloadType)data[1], (uint)datagram.Length).Write(datagram);
            data.AsSpan(2).CopyTo(datagram.AsSpan(V1Constants.HeaderLength));
            Assert.Equal(ParseStatus.Ok, IsakmpCodec.TryDecode(datagram, out var message));
            using var protector = IkeV1ProtectTarget.Protector(data[0]);
            Assert.Equal(ParseStatus.Ok, protector.TryOpen(message!, out var plaintext, out _));
            var payloads = new List<V1Payload>();
            Assert.True(ParseStatus.Ok == IsakmpCodec.TryDecodeChain(message!.Header.NextPayload, plaintext, allowPadding: true, payloads), name);
            Assert.True(payloads.Count >= 3, name);
        }
    }

    [Fact]
    public void Protect_seeds_are_the_generator_s()
    {
        var generated = IkeV1ProtectTarget.Seeds().ToDictionary(s => s.Name, s => s.Data);
        foreach (var (name, data) in Corpus(FuzzTargets.IkeV1Protect)) Assert.Equal(generated[name], data);
    }

    [Fact]
    public void State_machine_seeds_are_the_generator_s_and_reach_the_states_they_are_named_for()
    {
        var generated = IkeV1SaTarget.Seeds().ToDictionary(s => s.Name, s => s.Data);
        var corpus = Corpus(FuzzTargets.IkeV1StateMachine);
        Assert.Equal(generated.Count, corpus.Count);
        foreach (var (name, data) in corpus) Assert.Equal(generated[name], data);

        foreach (var suite in new[] { "s0", "s1" })
        {
            Assert.Equal(new IkeV1SaTarget.Outcome(V1Phase1State.Established, V1Phase1State.Established),
                IkeV1SaTarget.Execute(generated[$"{suite}-main-mode"]));
            Assert.Equal(new IkeV1SaTarget.Outcome(V1Phase1State.Established, V1Phase1State.Established),
                IkeV1SaTarget.Execute(generated[$"{suite}-repeat-each"]));
            // Message 5 sealed with the right key and IV but a HASH of zeros: decrypted, parsed, refused.
            var forged = IkeV1SaTarget.Execute(generated[$"{suite}-forged-hash-5"]);
            Assert.NotEqual(V1Phase1State.Established, forged.Responder);
        }
    }

    [Fact]
    public void A_forged_message_5_is_refused_after_decryption_and_counted()
    {
        long before = Concentrator.Telemetry.IkeStats.ClosedCount(Concentrator.Ipsec.CloseReason.AuthFailed)
            + Concentrator.Telemetry.IkeStats.DropCount(Concentrator.Ipsec.IkeDropReason.IntegrityCheckFailed);
        var data = IkeV1SaTarget.Seeds().Single(s => s.Name == "s0-forged-hash-5").Data;
        var outcome = IkeV1SaTarget.Execute(data);
        Assert.NotEqual(V1Phase1State.Established, outcome.Responder);
        long after = Concentrator.Telemetry.IkeStats.ClosedCount(Concentrator.Ipsec.CloseReason.AuthFailed)
            + Concentrator.Telemetry.IkeStats.DropCount(Concentrator.Ipsec.IkeDropReason.IntegrityCheckFailed);
        Assert.True(after > before);
    }
}

using Concentrator.DataPlane;
using Concentrator.Fuzz;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Sa;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Tests.Fuzz;

/// <summary>
/// Runs every seed and every saved crash of every fuzz target (Concentrator.Fuzz/corpus/&lt;target&gt;,
/// Concentrator.Fuzz/crashes/&lt;target&gt;, copied to FuzzCorpus/ in the output) through the same target
/// functions the AFL campaign uses, plus a fixed-seed mutation smoke so CI exercises the targets without AFL.
/// </summary>
public sealed class FuzzCorpusTests
{
    private const int SmokeMutations = 5000;

    public static TheoryData<string> Targets()
    {
        var data = new TheoryData<string>();
        foreach (var t in FuzzTargets.All) data.Add(t);
        return data;
    }

    private static string Root => Path.Combine(AppContext.BaseDirectory, "FuzzCorpus");

    private static List<(string Path, byte[] Data)> Files(string kind, string target)
    {
        var dir = Path.Combine(Root, kind, target);
        if (!Directory.Exists(dir)) return [];
        return Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(f => (f, File.ReadAllBytes(f))).ToList();
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Fuzz_corpus_and_crashes_run_without_unexpected_exceptions(string target)
    {
        var corpus = Files("corpus", target);
        Assert.True(corpus.Count > 0, $"no seeds for {target} under {Root}");
        var failures = new List<string>();
        foreach (var (path, data) in corpus.Concat(Files("crashes", target)))
        {
            try
            {
                FuzzTargets.Run(target, data);
            }
            catch (Exception e)
            {
                failures.Add($"{Path.GetFileName(path)}: {e.GetType().Name}: {e.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Fuzz_mutation_smoke_finds_no_unexpected_exception(string target)
    {
        var pool = Files("corpus", target).Select(f => f.Data).ToList();
        Assert.NotEmpty(pool);
        var mutator = new Mutator(seed: 7296 + target.Length);
        for (int i = 0; i < SmokeMutations; i++)
        {
            var input = mutator.Mutate(pool);
            try
            {
                FuzzTargets.Run(target, input);
            }
            catch (Exception e)
            {
                Assert.Fail($"{target} mutation {i} crashed ({e.GetType().Name}: {e.Message}); input hex: {Convert.ToHexString(input)}");
            }
        }
    }

    [Fact]
    public void Fuzz_entry_point_names_every_target() => Assert.Equal(FuzzTargets.All, global::Concentrator.Fuzz.Program.TargetNames);

    // The seeds must reach past the integrity checks, otherwise the campaign only fuzzes the rejection path.

    [Fact]
    public void Fuzz_sk_open_seeds_decrypt_and_fit_the_payload_rules()
    {
        foreach (var (path, data) in Files("corpus", FuzzTargets.SkOpen))
        {
            var suite = FuzzTargets.SkSuite(data[0]);
            using var opener = new IkeMessageProtector(suite, FuzzTargets.SkKeys(suite), weAreInitiator: false);
            var datagram = FuzzTargets.SkMessage(data);
            Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(datagram, out var message));
            Assert.True(ParseStatus.Ok == opener.TryOpen(datagram, message!), Path.GetFileName(path));
            Assert.Equal(ParseStatus.Ok, PayloadRules.Check(message!.Header.Exchange, message.Header.IsResponse, message.Payloads));
        }
    }

    [Fact]
    public void Fuzz_ike_seeds_decode_and_fit_the_payload_rules()
    {
        foreach (var (path, data) in Files("corpus", FuzzTargets.IkeMessage))
        {
            Assert.True(ParseStatus.Ok == IkeCodec.TryDecode(data, out var message), Path.GetFileName(path));
            if (message!.Header.Exchange == ExchangeType.IkeSaInit)
                Assert.Equal(ParseStatus.Ok, PayloadRules.Check(message.Header.Exchange, message.Header.IsResponse, message.Payloads));
        }

        foreach (var (path, data) in Files("corpus", FuzzTargets.IkeChain))
        {
            Assert.True(ParseStatus.Ok == IkeCodec.TryDecodeChain((PayloadType)data[0], data.AsSpan(1), []), Path.GetFileName(path));
        }
    }

    [Fact]
    public void Fuzz_esp_seeds_decapsulate()
    {
        foreach (var (path, data) in Files("corpus", FuzzTargets.EspDecap))
        {
            using var plane = new InMemoryDataPlane();
            plane.AddSa(FuzzTargets.EspInstall(FuzzTargets.EspSuite(data[0]), peer: false));
            var packet = data.AsSpan(1).ToArray();
            Assert.True(EspStatus.Ok == plane.Decapsulate(packet, out _), Path.GetFileName(path));
        }
    }

    // The targets beyond the parsers: their seeds must reach the states and paths they are there for.

    [Fact]
    public void Fuzz_ike_sa_seeds_establish_and_reach_their_paths()
    {
        var seeds = Files("corpus", FuzzTargets.IkeStateMachine).ToDictionary(f => Path.GetFileName(f.Path), f => f.Data);
        for (int suite = 0; suite < IkeSaTarget.Suites.Length; suite++)
        {
            var up = IkeSaTarget.Run(seeds[$"s{suite}-handshake"]);
            Assert.Equal((IkeSaState.Established, IkeSaState.Established, 1), (up.Initiator, up.Responder, up.ResponderChildren));
            // A CREATE_CHILD_SA of the input's own payloads, sealed by the target, makes a second Child SA.
            Assert.Equal(2, IkeSaTarget.Run(seeds[$"s{suite}-inject-create-child"]).ResponderChildren);
            Assert.Equal(2, IkeSaTarget.Run(seeds[$"s{suite}-replace-create-child"]).ResponderChildren);
            // Before IKE_AUTH it makes none (the target itself fails a child from an unauthenticated peer).
            var preAuth = IkeSaTarget.Run(seeds[$"s{suite}-pre-auth-create-child"]);
            Assert.Equal((IkeSaState.Connecting, 0), (preAuth.Responder, preAuth.ResponderChildren));
            // IDi without AUTH is refused, and so is the recorded AUTH under this run's keys.
            Assert.Equal(IkeSaState.Destroyed, IkeSaTarget.Run(seeds[$"s{suite}-eap-start"]).Responder);
            Assert.Equal(IkeSaState.Destroyed, IkeSaTarget.Run(seeds[$"s{suite}-replace-auth"]).Responder);
            Assert.Equal(IkeSaState.Destroyed, IkeSaTarget.Run(seeds[$"s{suite}-lifecycle"]).Initiator);
        }
    }

    [Fact]
    public void Fuzz_ike_frag_seeds_reassemble_and_reach_their_bounds()
    {
        var seeds = Files("corpus", FuzzTargets.IkeFrag).ToDictionary(f => Path.GetFileName(f.Path), f => f.Data);
        foreach (var tag in new[] { "gcm576", "cbc576", "gcm1280", "cbc1280" })
        {
            var up = IkeFragTarget.Run(seeds[$"{tag}-in-order"]);
            Assert.Equal((IkeSaState.Established, IkeSaState.Established), (up.Initiator, up.Responder));
            // IKE_SA_INIT and the IKE_AUTH fragments: at least two of them.
            Assert.True(up.InitiatorSent >= 3, $"{tag}: {up.InitiatorSent} datagrams");
            Assert.True(up.MostHeld > 0, $"{tag}: the responder never held a fragment");
            foreach (var name in new[] { "reversed", "duplicates", "flipped", "too-many", "response-forged", "retransmit", "informational" })
            {
                var run = IkeFragTarget.Run(seeds[$"{tag}-{name}"]);
                Assert.True(run.Responder == IkeSaState.Established && run.Initiator == IkeSaState.Established, $"{tag}-{name}: {run}");
            }

            // A larger Total Fragments, authentic, makes the genuine ones stale; max_packet 1500 and fragment_memory 2000
            // are too small for the 2 kB IKE_AUTH.
            Assert.Equal(IkeSaState.Connecting, IkeFragTarget.Run(seeds[$"{tag}-refragmented"]).Responder);
            Assert.Equal(IkeSaState.Connecting, IkeFragTarget.Run(seeds[$"{tag}-max-packet"]).Responder);
            var memory = IkeFragTarget.Run(seeds[$"{tag}-memory"]);
            Assert.Equal(IkeSaState.Connecting, memory.Responder);
            Assert.InRange(memory.MostHeld, 0, 2000);
            // Two authentic, empty fragments padded by 255 octets each of a 255-fragment message: the padding is not kept
            // (the first datagram, about 340 octets, is).
            Assert.InRange(IkeFragTarget.Run(seeds[$"{tag}-padded"]).MostHeld, 1, 400);
        }
    }

    [Fact]
    public void Fuzz_esp_open_seeds_open_past_the_icv()
    {
        var seeds = Files("corpus", FuzzTargets.EspOpen);
        Assert.Equal(EspOpenTarget.Suites.Length * 2 * 6, seeds.Count);
        foreach (var (path, data) in seeds)
        {
            string name = Path.GetFileName(path);
            var expected = name.EndsWith("-dummy", StringComparison.Ordinal) ? EspStatus.Dummy
                : name.EndsWith("-outside-ts", StringComparison.Ordinal) ? EspStatus.TsMismatch
                : EspStatus.Ok;
            Assert.True(expected == EspOpenTarget.Run(data), name);
        }
        Assert.Contains(seeds, s => EspOpenTarget.Suite(s.Data[0]) is { Encryption: EncrAlgorithm.ChaCha20Poly1305, Esn: true });
    }

    [Fact]
    public void Fuzz_replica_seeds_restore()
    {
        var seeds = Files("corpus", FuzzTargets.Replica);
        Assert.NotEmpty(seeds);
        foreach (var (path, data) in seeds) Assert.True(ReplicaTarget.Run(data), Path.GetFileName(path));
    }
}

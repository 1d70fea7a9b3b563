using Concentrator.DataPlane;
using Concentrator.Fuzz;
using Concentrator.Ike.Crypto;
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
}

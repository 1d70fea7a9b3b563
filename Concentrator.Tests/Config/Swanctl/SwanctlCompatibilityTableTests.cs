using System.Text;
using Concentrator.Config.Swanctl;
using Concentrator.Tests.Support;

namespace Concentrator.Tests.Config.Swanctl;

/// <summary>
/// The README's compatibility table is <see cref="SwanctlKeys"/>, the table the converter walks (so neither can drift),
/// and every key it marks supported is one the converter writes and the loader reads.
/// </summary>
public sealed class SwanctlCompatibilityTableTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("swanctl-table-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The README's rows, as the test expects them: one per key, in the table's order.</summary>
    internal static string Rows()
    {
        var text = new StringBuilder();
        text.Append("| swanctl.conf / strongswan.conf key | Concentrator | Note |\n|---|---|---|\n");
        foreach (var key in SwanctlKeys.All)
        {
            var support = key.Support switch { KeySupport.Supported => "supported", KeySupport.NotYet => "not yet", _ => "never" };
            text.Append($"| `{key.Path}` | {support} | {key.Note} |\n");
        }
        return text.ToString();
    }

    [Fact]
    public void The_readme_lists_every_key_of_the_converters_table_with_its_support()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md")).ReplaceLineEndings("\n");
        int start = readme.IndexOf("\n## Moving from strongSwan\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no section '## Moving from strongSwan'");
        int end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        Assert.True(section.Contains(Rows(), StringComparison.Ordinal),
            "README.md's compatibility table differs from SwanctlKeys; it should read:\n" + Rows());
        Assert.True(readme.IndexOf("\n## Architecture", StringComparison.Ordinal) is var arch && arch > start, "the section comes before ## Architecture");
    }

    [Fact]
    public void Every_swanctl_key_of_the_reference_has_a_row()
    {
        // strongSwan's swanctl.opt (the swanctl.conf reference), every key.
        string[] reference =
        [
            "connections.<conn>.version", "local_addrs", "remote_addrs", "local_port", "remote_port", "proposals", "vips", "aggressive", "pull",
            "dscp", "encap", "mobike", "dpd_delay", "dpd_timeout", "fragmentation", "childless", "send_certreq", "send_cert", "ocsp", "ppk_id",
            "ppk_required", "keyingtries", "unique", "reauth_time", "rekey_time", "over_time", "rand_time", "pools", "if_id_in", "if_id_out",
            "mediation", "mediated_by", "mediation_peer",
        ];
        var paths = SwanctlKeys.All.Select(k => k.Path).ToHashSet();
        foreach (var key in reference.Select(k => k.Contains('.') ? k : "connections.<conn>." + k))
        {
            Assert.Contains(key, paths);
        }
        Assert.Equal(paths.Count, SwanctlKeys.All.Count());
        foreach (var child in new[] { "ah_proposals", "esp_proposals", "sha256_96", "local_ts", "remote_ts", "updown", "hostaccess", "mode", "policies",
                     "policies_fwd_out", "dpd_action", "ipcomp", "inactivity", "reqid", "priority", "interface", "mark_in", "mark_in_sa", "mark_out",
                     "set_mark_in", "set_mark_out", "if_id_in", "if_id_out", "label", "label_mode", "tfc_padding", "replay_window", "per_cpu_sas",
                     "hw_offload", "copy_df", "copy_ecn", "copy_dscp", "icmp", "start_action", "close_action" })
        {
            Assert.Contains("connections.<conn>.children.<child>." + child, paths);
        }
    }

    /// <summary>A concrete name for a row's path segment.</summary>
    private static string Concrete(string segment) => segment switch
    {
        "<conn>" => "c",
        "<child>" => "net",
        "<name>" => "n",
        "<attr>" => "25",
        _ when segment.EndsWith("<suffix>", StringComparison.Ordinal) => segment[..^"<suffix>".Length] + (segment is "local<suffix>" or "remote<suffix>" ? "" : "-1"),
        _ => segment,
    };

    public static TheoryData<string> SupportedValues() =>
        new(SwanctlKeys.All.Where(k => k is { Support: KeySupport.Supported } && k.Shape != KeyShape.Section && k.Path != "include").Select(k => k.Path));

    /// <summary>
    /// The key alone in a file, written as swanctl would, converted and loaded: whatever the loader says of its placeholder
    /// value, it must not be that it does not know the key, and the converter must not refuse it. The converter of a
    /// supported key that the loader does not read fails here with the loader's "unknown key".
    /// </summary>
    [Theory]
    [MemberData(nameof(SupportedValues))]
    public void A_supported_key_is_converted_and_known_to_the_loader(string path)
    {
        var segments = path.Split('.').Select(Concrete).ToList();
        var text = new StringBuilder();
        foreach (var s in segments[..^1]) text.Append(s).Append(" {\n");
        text.Append(segments[^1]).Append(" = 1\n");
        foreach (var _ in segments[..^1]) text.Append("}\n");
        bool charon = segments[0] == "charon";
        var file = Path.Combine(_dir, charon ? "strongswan.conf" : "swanctl.conf");
        File.WriteAllText(file, text.ToString());
        var swanctl = charon ? Path.Combine(_dir, "empty-swanctl.conf") : file;
        if (charon) File.WriteAllText(swanctl, "");

        var result = SwanctlConverter.Convert(swanctl, charon ? file : null, "converted.yaml");
        foreach (var problem in result.Problems)
        {
            // The loader may refuse the placeholder value; it must have known the key, and the converter must have written it.
            Assert.DoesNotContain("unknown key", problem.Problem);
            Assert.DoesNotContain("unknown section", problem.Problem);
            Assert.DoesNotContain($"({path})", problem.Problem);
        }
    }
}

using System.Text;
using Concentrator.Config;

namespace Concentrator.Tests.Config;

/// <summary>Top-level <c>include:</c> of secrets-only files (PSKs in a Kubernetes Secret, config in a ConfigMap).</summary>
public sealed class IncludeConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("concentrator-include-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string relative, string text)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private ConfigException Fails(string mainYaml)
    {
        var main = Write("config/concentrator.yaml", mainYaml);
        return Assert.Throws<ConfigException>(() => ConcentratorConfig.Load(main));
    }

    [Fact]
    public void Relative_glob_merges_secrets_after_the_main_file_in_name_order()
    {
        Write("secrets/b.yaml", "secrets:\n  ike-b: { id: b.example.net, secret: 0x6262 }\n");
        Write("secrets/a.yaml", "secrets:\n  ike-a: { id: [a.example.net], secret: \"alpha\" }\n");
        Write("secrets/notes.txt", "secrets: { ike-ignored: { secret: x } }\n");
        var main = Write("config/concentrator.yaml", """
            include: ["../secrets/*.yaml"]
            secrets:
              ike-main: { secret: main }
            """);

        var c = ConcentratorConfig.Load(main);

        Assert.Equal(["ike-main", "ike-a", "ike-b"], c.Secrets.Select(s => s.Name));
        Assert.Equal("alpha"u8.ToArray(), c.Secrets[1].Secret);
        Assert.Equal([0x62, 0x62], c.Secrets[2].Secret);
        Assert.Equal(Encoding.UTF8.GetBytes("alpha"), c.FindSharedKey("gw", "a.example.net"));
    }

    [Fact]
    public void Absolute_file_path_and_comma_separated_list()
    {
        var one = Write("s/one.yaml", "secrets:\n  ike-1: { secret: one }\n");
        var two = Write("s/two.yaml", "secrets:\n  ike-2: { secret: two }\n");
        var c = ConcentratorConfig.Parse($"include: \"{one}, {two}\"\n", "<memory>");
        Assert.Equal(["ike-1", "ike-2"], c.Secrets.Select(s => s.Name));
    }

    [Fact]
    public void Pattern_matching_nothing_is_not_an_error_but_a_missing_file_is()
    {
        var main = Write("config/concentrator.yaml", "include: [\"../absent/*.yaml\", \"../secrets/none-*.yaml\"]\n");
        Directory.CreateDirectory(Path.Combine(_dir, "secrets"));
        Assert.Empty(ConcentratorConfig.Load(main).Secrets);

        var e = Fails("include: [\"../secrets/*.yaml\", \"../secrets/psk.yaml\"]\n");
        Assert.EndsWith("concentrator.yaml", e.File);
        Assert.Equal("include[1]", e.KeyPath);
        Assert.Contains($"'{Path.Combine(_dir, "secrets", "psk.yaml")}'", e.Problem);
        Assert.Contains("not found", e.Problem);
    }

    [Fact]
    public void Kubernetes_secret_volume_layout_reads_each_key_once()
    {
        // The kubelet's atomic writer: keys are symlinks into ..data, itself a symlink to a timestamped directory.
        var volume = Path.Combine(_dir, "secrets");
        var stamp = Path.Combine(volume, "..2026_11_27_08_00_00.123");
        Directory.CreateDirectory(stamp);
        File.WriteAllText(Path.Combine(stamp, "psk.yaml"), "secrets:\n  ike-k8s: { secret: from-secret }\n");
        File.CreateSymbolicLink(Path.Combine(volume, "..data"), stamp);
        File.CreateSymbolicLink(Path.Combine(volume, "psk.yaml"), Path.Combine("..data", "psk.yaml"));
        var main = Write("config/concentrator.yaml", "include: [\"../secrets/*\"]\n");

        var c = ConcentratorConfig.Load(main);

        var secret = Assert.Single(c.Secrets);
        Assert.Equal("ike-k8s", secret.Name);
        Assert.Equal("from-secret"u8.ToArray(), secret.Secret);
    }

    [Fact]
    public void Errors_in_an_included_file_name_that_file_and_key()
    {
        var bad = Write("secrets/psk.yaml", "secrets:\n  ike-a:\n    id: a\n    secret: 0xZZ\n");
        var e = Fails("include: [../secrets/*.yaml]\n");
        Assert.Equal(bad, e.File);
        Assert.Equal("secrets.ike-a.secret", e.KeyPath);
        Assert.Contains("line 4", e.Problem);

        File.WriteAllText(bad, "secrets: [unclosed\n");
        e = Fails("include: [../secrets/*.yaml]\n");
        Assert.Equal(bad, e.File);
        Assert.Contains("invalid YAML", e.Problem);
    }

    [Fact]
    public void Included_device_or_huge_file_is_refused_after_a_bounded_read()
    {
        var e = Fails("include: [/dev/zero]\n");
        Assert.Equal("/dev/zero", e.File);
        Assert.Contains("larger than", e.Problem);
    }

    [Theory]
    [InlineData("listen: { ike_port: 500 }\n", "listen")]
    [InlineData("include: [other.yaml]\n", "include")]
    [InlineData("connections: {}\n", "connections")]
    public void Included_file_may_hold_only_secrets(string text, string key)
    {
        var bad = Write("secrets/psk.yaml", text);
        var e = Fails("include: [../secrets/psk.yaml]\n");
        Assert.Equal(bad, e.File);
        Assert.Equal(key, e.KeyPath);
        Assert.Contains("expected one of: secrets", e.Problem);
    }

    [Fact]
    public void Secret_defined_twice_names_both_files()
    {
        var included = Write("secrets/psk.yaml", "secrets:\n  ike-a: { secret: two }\n");
        var e = Fails("include: [../secrets/psk.yaml]\nsecrets:\n  ike-a: { secret: one }\n");
        Assert.Equal(included, e.File);
        Assert.Equal("secrets.ike-a", e.KeyPath);
        Assert.Contains("concentrator.yaml", e.Problem);
    }

    [Theory]
    [InlineData("include: [\"../*/psk.yaml\"]\n", "wildcards are allowed only in the file name")]
    [InlineData("include: [\"../secrets/\"]\n", "names a directory")]
    [InlineData("include: [\"a\\0b.yaml\"]\n", "is not a valid path")]
    [InlineData("include: []\n", null)]
    [InlineData("include: { a: b }\n", "expected a list")]
    public void Bad_include_entries_name_the_including_file(string yaml, string? problem)
    {
        var main = Write("config/concentrator.yaml", yaml);
        if (problem is null)
        {
            Assert.Empty(ConcentratorConfig.Load(main).Secrets);
            return;
        }
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Load(main));
        Assert.Equal(main, e.File);
        Assert.StartsWith("include", e.KeyPath);
        Assert.Contains(problem, e.Problem);
    }
}

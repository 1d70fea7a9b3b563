using Concentrator.Config.Swanctl;

namespace Concentrator.Tests.Config.Swanctl;

/// <summary>strongSwan's settings syntax (settings_lexer.l, settings_parser.y) as <see cref="SettingsReader"/> reads it.</summary>
public sealed class SettingsReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("settings-reader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SettingsSection Read(string text)
    {
        var (root, problems) = SettingsReader.ReadText(text, "/etc/swanctl/swanctl.conf");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        return root;
    }

    private static string Problems(string text) => string.Join("\n", SettingsReader.ReadText(text, "t.conf").Problems);

    [Fact]
    public void Sections_values_and_comments()
    {
        var root = Read("""
            # a comment
            connections {   # after a brace
              a {
                local_addrs = 192.0.2.1, 192.0.2.2   # trailing comment
                empty =
                words =   several   words	here
                children { net { esp_proposals = aes256gcm16 } }
              }
            }
            """);
        var a = root.Find("connections.a")!;
        Assert.Equal("192.0.2.1, 192.0.2.2", a.Values["local_addrs"].Value);
        Assert.Equal(4, a.Values["local_addrs"].Position.Line);
        Assert.Null(a.Values["empty"].Value);
        Assert.Equal("several words here", a.Values["words"].Value);
        Assert.Equal("aes256gcm16", root.Find("connections.a.children.net")!.Values["esp_proposals"].Value);
        Assert.Equal(7, root.Find("connections.a.children.net")!.Values["esp_proposals"].Position.Line);
    }

    [Fact]
    public void Quoted_values_keep_spaces_hashes_and_braces_and_unescape()
    {
        var root = Read("""
            s {
              a = "x # not a comment } nor a brace"
              b = "tab\tnew\nline \"quoted\" back\\slash \q"
              c = "joined \
            line" after
              d = "multi
            line"
              e = 1
            }
            """);
        var s = root.Find("s")!;
        Assert.Equal("x # not a comment } nor a brace", s.Values["a"].Value);
        Assert.Equal("tab\tnew\nline \"quoted\" back\\slash q", s.Values["b"].Value);
        Assert.Equal("joined line after", s.Values["c"].Value);
        Assert.Equal("multi\nline", s.Values["d"].Value);
        Assert.Equal(8, s.Values["e"].Position.Line);
    }

    [Fact]
    public void A_section_written_twice_is_merged_and_a_later_value_wins()
    {
        var root = Read("""
            pools {
              p {
                addrs = 10.0.0.0/24
                dns = 10.0.0.1
              }
            }
            pools { p { addrs = 10.9.0.0/24 } q { addrs = 10.8.0.0/24 } }
            """);
        var p = root.Find("pools.p")!;
        Assert.Equal("10.9.0.0/24", p.Values["addrs"].Value);
        Assert.Equal("10.0.0.1", p.Values["dns"].Value);
        Assert.NotNull(root.Find("pools.q"));
        Assert.Equal(["p", "q"], root.Find("pools")!.Sections.Keys);
    }

    [Fact]
    public void A_section_inherits_from_the_sections_it_names()
    {
        var root = Read("""
            connections {
              base {
                version = 2
                proposals = default
              }
              a : connections.base { proposals = aes256-sha256-modp2048 }
            }
            """);
        var a = root.Find("connections.a")!;
        Assert.Equal("2", a.Values["version"].Value);
        Assert.Equal("aes256-sha256-modp2048", a.Values["proposals"].Value);
    }

    [Fact]
    public void Includes_are_read_in_place_relative_to_the_including_file_in_name_order()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "conf.d"));
        File.WriteAllText(Path.Combine(_dir, "conf.d", "b.conf"), "b { x = from-b }\n");
        File.WriteAllText(Path.Combine(_dir, "conf.d", "a.conf"), "a { x = from-a }\nlast = a\n");
        File.WriteAllText(Path.Combine(_dir, "conf.d", ".hidden.conf"), "hidden { }\n");
        File.WriteAllText(Path.Combine(_dir, "secrets.inc"), "ike-1 { secret = s }\n");
        var main = Path.Combine(_dir, "swanctl.conf");
        File.WriteAllText(main, """
            top {
              include conf.d/*.conf
              after = yes
            }
            secrets {
              include "secrets.inc"
            }
            """);
        var (root, problems) = SettingsReader.ReadFile(main);
        Assert.Empty(problems);
        Assert.Equal(["a", "b"], root.Find("top")!.Sections.Keys);
        Assert.Equal("a", root.Find("top")!.Values["last"].Value);
        Assert.Equal(new SettingsPosition(Path.Combine(_dir, "conf.d", "a.conf"), 2), root.Find("top")!.Values["last"].Position);
        Assert.Equal(new SettingsPosition(main, 3), root.Find("top")!.Values["after"].Position);
        Assert.Equal("s", root.Find("secrets.ike-1")!.Values["secret"].Value);
    }

    [Fact]
    public void A_missing_include_and_an_include_loop_are_problems_with_file_and_line()
    {
        var main = Path.Combine(_dir, "swanctl.conf");
        File.WriteAllText(main, "a { }\ninclude missing.conf\ninclude none-*.conf\n");
        var (_, problems) = SettingsReader.ReadFile(main);
        Assert.Equal($"{main}:2: include '{Path.Combine(_dir, "missing.conf")}' not found (only a pattern with * or ? may match nothing)",
            Assert.Single(problems).ToString());

        var loop = Path.Combine(_dir, "loop.conf");
        File.WriteAllText(loop, "x = 1\ninclude loop.conf\n");
        (_, problems) = SettingsReader.ReadFile(loop);
        Assert.Contains(problems, p => p.Position == new SettingsPosition(loop, 2) && p.Problem.Contains("nested deeper"));
    }

    [Theory]
    [InlineData("a {\n b = 1\n", "t.conf:2: section 'a' opened at t.conf:1 is not closed (missing '}')")]
    [InlineData("a {\n b : a { }\n}\n", "t.conf:2: section 'b' cannot inherit from 'a', which contains it")]
    [InlineData("a = 1\n}\n", "t.conf:2: '}' closes no section")]
    [InlineData("a\n", "t.conf:1: expected '{', ':' or '=' after 'a', found the end of the file")]
    [InlineData("\n\na b = 1\n", "t.conf:3: expected '{', ':' or '=' after 'a', found 'b'")]
    [InlineData("a = \"open\n\n", "t.conf:1: unterminated string (missing '\"')")]
    [InlineData("\"a\" = 1\n", "t.conf:1: unexpected string (quotes are for values and include patterns)")]
    [InlineData("a : nowhere { }\n", "t.conf:1: 'nowhere' names no section to inherit from (references are full paths, e.g. connections.base)")]
    [InlineData("a : b { }\nb : a { }\n", "t.conf:1: section 'a' inherits from itself (a loop of references)")]
    [InlineData("x.y = 1\n", "t.conf:1: expected '{', ':' or '=' after 'x', found '.'")]
    public void Syntax_errors_name_file_and_line(string text, string expected)
    {
        Assert.Equal(expected, Problems(text));
    }

    [Fact]
    public void Include_is_a_key_when_an_equals_sign_follows()
    {
        var root = Read("s {\n include = yes\n}\n");
        Assert.Equal("yes", root.Find("s")!.Values["include"].Value);
    }

    [Fact]
    public void Random_and_mutated_input_never_throws_and_every_problem_has_a_line()
    {
        var random = new Random(18);
        const string alphabet = "ab {}=:,.#\"\\\n\t include x*?/";
        var seed = "connections {\n a : connections.b {\n  x = \"y\\n\" z # c\n  include *.conf\n }\n}\n";
        for (int i = 0; i < 20_000; i++)
        {
            var chars = seed.ToCharArray();
            int edits = random.Next(1, 8);
            var text = new System.Text.StringBuilder(new string(chars));
            for (int e = 0; e < edits; e++)
            {
                int at = random.Next(text.Length + 1);
                if (random.Next(3) == 0 && text.Length > 0 && at < text.Length) text.Remove(at, 1);
                else text.Insert(at, alphabet[random.Next(alphabet.Length)]);
            }
            if (i % 4 == 0)
            {
                text.Clear();
                for (int n = random.Next(200); n > 0; n--) text.Append((char)random.Next(0, 128));
            }
            var (_, problems) = SettingsReader.ReadText(text.ToString(), Path.Combine(_dir, "fuzz.conf"));
            foreach (var p in problems)
            {
                Assert.True(p.Position.Line >= 1 || p.Position.File != Path.Combine(_dir, "fuzz.conf"), $"no line: {p}");
            }
        }
    }
}

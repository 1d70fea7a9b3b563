using System.Diagnostics;
using System.Text.RegularExpressions;
using Concentrator.Tests.Telemetry;
using Xunit.Abstractions;

namespace Concentrator.Tests.Helm;

/// <summary>
/// The Dockerfile as far as it can be proven without a container engine: its build stage replayed in an empty
/// directory that holds exactly what its COPY lines copy from the context (after .dockerignore), its RUN lines run
/// there with the stage's absolute paths mapped into that directory, and the published apphost started. The
/// runtime stage is checked as text: the real base image names, a numeric USER, the capabilities set on the
/// ENTRYPOINT binary and every package installed for it purged in the same layer. A real <c>docker build</c>
/// (pulling mcr.microsoft.com) is not part of the suite.
/// </summary>
public sealed partial class DockerfileBuildTests(ITestOutputHelper output) : IDisposable
{
    private static string Root => Tools.RepoRoot;
    private readonly string _tmp = Directory.CreateTempSubdirectory("concentrator-docker-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    internal sealed record Instruction(string Keyword, string Arguments);

    internal sealed record Stage(string Image, string? Name, List<Instruction> Instructions);

    /// <summary>The Dockerfile's stages: continuation lines joined, comments and the parser directive dropped.</summary>
    internal static List<Stage> Parse(string text)
    {
        var stages = new List<Stage>();
        var logical = new List<string>();
        string pending = "";
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.TrimStart().StartsWith('#')) continue;
            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }
            pending += line;
            if (pending.Trim().Length > 0) logical.Add(pending.Trim());
            pending = "";
        }
        foreach (var line in logical)
        {
            int space = line.IndexOf(' ');
            var keyword = line[..space].ToUpperInvariant();
            var args = line[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                stages.Add(new Stage(parts[0], parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : null, []));
            }
            else
            {
                Assert.True(stages.Count > 0, $"instruction before FROM: {line}");
                stages[^1].Instructions.Add(new Instruction(keyword, args));
            }
        }
        return stages;
    }

    private static List<Stage> Dockerfile() => Parse(File.ReadAllText(Path.Combine(Root, "Dockerfile")));

    [Fact]
    public void Stages_use_the_real_base_images_and_a_numeric_user()
    {
        var stages = Dockerfile();
        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0", "mcr.microsoft.com/dotnet/aspnetcore:10.0"], stages.Select(s => s.Image));
        var runtime = stages[^1];
        var user = Assert.Single(runtime.Instructions, i => i.Keyword == "USER").Arguments;
        // The aspnetcore images' `app` user; a name would defeat a kubelet's runAsNonRoot check.
        Assert.Equal("1654", user);
        // global.json must accept the SDK the image carries (10.0.1xx or a later 10.0 band).
        var global = File.ReadAllText(Path.Combine(Root, "global.json"));
        Assert.Matches("\"version\":\\s*\"10\\.0\\.100\"", global);
        Assert.Matches("\"rollForward\":\\s*\"(latestFeature|latestMajor|latestMinor)\"", global);
    }

    /// <summary>Libraries the gateway loads at run time (intel-ipsec-mb for ESP AES-GCM): installed and kept.</summary>
    private static readonly HashSet<string> RuntimeLibraries = ["libipsec-mb1"];

    [Fact]
    public void The_runtime_stage_sets_the_capabilities_on_its_entrypoint_and_keeps_no_tool_it_installed()
    {
        var stages = Dockerfile();
        var runtime = stages[^1];
        var entrypoint = Assert.Single(runtime.Instructions, i => i.Keyword == "ENTRYPOINT").Arguments;
        Assert.Equal("[\"/app/Concentrator\"]", entrypoint);
        var copy = Assert.Single(runtime.Instructions, i => i.Keyword == "COPY").Arguments;
        Assert.Equal($"--from={stages[0].Name} /app /app", copy);
        var runs = runtime.Instructions.Where(i => i.Keyword == "RUN").Select(i => i.Arguments).ToList();
        var setcap = Assert.Single(runs, r => r.Contains("setcap", StringComparison.Ordinal));
        Assert.Contains("setcap cap_net_admin,cap_net_raw+ep /app/Concentrator", setcap);
        foreach (var library in RuntimeLibraries)
            Assert.Contains(runs, r => InstalledPackages().Matches(r).Any(m => m.Groups["pkgs"].Value.Split(' ').Contains(library)) && !r.Contains("purge -y --auto-remove " + library, StringComparison.Ordinal));
        foreach (var run in runs)
        {
            foreach (Match m in InstalledPackages().Matches(run))
            {
                foreach (var package in m.Groups["pkgs"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith('-') && !RuntimeLibraries.Contains(p)))
                {
                    Assert.Matches($@"apt-get purge -y( --auto-remove)? ([\w.+-]+ )*{Regex.Escape(package)}\b", run);
                }
            }
            Assert.Contains("rm -rf /var/lib/apt/lists/*", run);
        }
    }

    [GeneratedRegex(@"apt-get install (?<pkgs>[^&;|]+)")]
    private static partial Regex InstalledPackages();

    [Fact]
    public void The_chart_default_image_is_the_one_the_readme_builds()
    {
        var chart = File.ReadAllText(Path.Combine(Root, "helm", "concentrator", "Chart.yaml"));
        var appVersion = Regex.Match(chart, "(?m)^appVersion:\\s*\"?([^\"\\s]+)\"?").Groups[1].Value;
        var values = File.ReadAllText(Path.Combine(Root, "helm", "concentrator", "values.yaml"));
        var image = Regex.Match(values, "(?m)^image:\\s*\\n\\s+repository:\\s*(\\S+)\\s*\\n(?:\\s+#.*\\n)*\\s+tag:\\s*\"([^\"]*)\"");
        Assert.True(image.Success, "values.yaml image.repository/tag not found");
        var expected = $"{image.Groups[1].Value}:{(image.Groups[2].Value.Length > 0 ? image.Groups[2].Value : appVersion)}";
        Assert.Equal("concentrator:0.1.0", expected);

        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        var section = readme[readme.IndexOf("## Deploying on Kubernetes", StringComparison.Ordinal)..];
        var build = Regex.Match(section, @"(?m)^\s*docker build [^\n]*?-t (\S+) \.$");
        Assert.True(build.Success, "README's Kubernetes section has no `docker build -t IMAGE .`");
        Assert.Equal(expected, build.Groups[1].Value);
        Assert.Matches(@"docker push \S+/concentrator:" + Regex.Escape(appVersion), section);
        // The application reports the same version (concentrator_build_info, the image tag).
        var csproj = File.ReadAllText(Path.Combine(Root, "Concentrator", "Concentrator.csproj"));
        Assert.Equal(appVersion, Regex.Match(csproj, "<Version>([^<]+)</Version>").Groups[1].Value);
    }

    [Fact]
    public async Task The_build_stage_replayed_from_its_copied_context_publishes_an_apphost_that_starts()
    {
        var build = Dockerfile()[0];
        var ignore = DockerIgnore.Load(Path.Combine(Root, ".dockerignore"));
        var stageRoot = Path.Combine(_tmp, "fs");
        string Map(string path) => Path.Combine(stageRoot, path.TrimStart('/'));
        // Absolute paths of the stage (its WORKDIRs and the publish output the runtime stage copies) live under stageRoot.
        var absolute = new HashSet<string>(StringComparer.Ordinal) { "/app" };
        string workdir = "/";
        var args = new Dictionary<string, string>(StringComparer.Ordinal) { ["SOURCE_REVISION"] = "0123abc" };
        foreach (var (keyword, arguments) in build.Instructions.Select(i => (i.Keyword, i.Arguments)))
        {
            switch (keyword)
            {
                case "WORKDIR":
                    workdir = arguments.StartsWith('/') ? arguments : Path.Combine(workdir, arguments);
                    absolute.Add(workdir);
                    Directory.CreateDirectory(Map(workdir));
                    break;
                case "COPY":
                    var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    Assert.DoesNotContain(parts, p => p.StartsWith("--", StringComparison.Ordinal));
                    var dest = parts[^1].StartsWith('/') ? parts[^1] : Path.Combine(workdir, parts[^1]);
                    foreach (var source in parts[..^1]) CopyFromContext(source, Map(dest), dest.EndsWith('/') || parts.Length > 2, ignore);
                    break;
                case "ARG":
                    var name = arguments.Split('=')[0];
                    Assert.True(args.ContainsKey(name), $"ARG {name} has no value in the replay");
                    break;
                case "RUN":
                    var command = Regex.Replace(arguments, @"(?<=^|[\s""'=])(/[\w./-]+)", m =>
                        absolute.Any(a => m.Value == a || m.Value.StartsWith(a + "/", StringComparison.Ordinal)) ? Map(m.Value) : m.Value);
                    output.WriteLine($"RUN {command}");
                    // The publish line compiles every assembly ReadyToRun: close to 10 minutes on a loaded 2-core machine.
                    var (exit, text) = await Tools.RunAsync("bash", ["-c", command], timeoutSeconds: 1200, workingDirectory: Map(workdir), environment: StageEnvironment(args));
                    Assert.True(exit == 0, $"RUN {arguments} failed ({exit}):\n{text}");
                    break;
                case "ENV":
                    break;
                default:
                    Assert.Fail($"the replay does not know {keyword} (build stage: {keyword} {arguments})");
                    break;
            }
        }

        // The context held exactly what COPY named, minus what .dockerignore excludes.
        Assert.False(Directory.Exists(Map("/src/Concentrator/bin/Debug")), "host build output leaked through COPY");
        var apphost = Map("/app/Concentrator");
        Assert.True(File.Exists(apphost), "publish wrote no apphost at /app/Concentrator");
        Assert.True(File.Exists(Map("/app/Config/example.yaml")));
        var (helpExit, help) = await Tools.RunAsync(apphost, ["--help"], workingDirectory: Map("/app"));
        Assert.True(helpExit == 0, help);
        Assert.Contains("Usage: Concentrator", help);
        var informational = FileVersionInfo.GetVersionInfo(Map("/app/Concentrator.dll")).ProductVersion;
        Assert.Equal("0.1.0+0123abc", informational);
    }

    private void CopyFromContext(string source, string dest, bool intoDirectory, DockerIgnore ignore)
    {
        var from = Path.Combine(Root, source.TrimEnd('/'));
        int copied = 0;
        if (File.Exists(from))
        {
            Assert.False(ignore.Excludes(source), $"COPY {source}: excluded by .dockerignore");
            var target = intoDirectory ? Path.Combine(dest, Path.GetFileName(from)) : dest;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(from, target, overwrite: true);
            copied++;
        }
        else
        {
            Assert.True(Directory.Exists(from), $"COPY {source}: not in the build context");
            foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(Root, file).Replace('\\', '/');
                if (ignore.Excludes(relative)) continue;
                var target = Path.Combine(dest, Path.GetRelativePath(from, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target, overwrite: true);
                copied++;
            }
        }
        output.WriteLine($"COPY {source}: {copied} files");
        Assert.True(copied > 0, $"COPY {source} copied nothing");
    }

    /// <summary>A RUN line's environment: its build arguments, and nothing of the test run's own MSBuild (nodes, paths).</summary>
    private static Dictionary<string, string?> StageEnvironment(Dictionary<string, string> args)
    {
        var env = new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["MSBUILDNOINPROCNODE"] = "1",
            ["DOTNET_CLI_DO_NOT_USE_MSBUILD_SERVER"] = "1",
            ["MSBuildExtensionsPath"] = null,
            ["MSBUILD_EXE_PATH"] = null,
            ["MSBuildSDKsPath"] = null,
        };
        foreach (var (k, v) in args) env[k] = v;
        return env;
    }

    [Theory]
    [InlineData("Concentrator/bin/Release/x.dll", true)]
    [InlineData("Concentrator/obj/project.assets.json", true)]
    [InlineData("Concentrator/Program.cs", false)]
    [InlineData("Concentrator/Config/example.yaml", false)]
    [InlineData("README.md", false)]
    [InlineData("DEVELOPERS.md", true)]
    [InlineData("Concentrator.Tests/Helm/HelmChartTests.cs", true)]
    [InlineData("global.json", false)]
    public void Dockerignore_keeps_build_output_and_tests_out_of_the_context(string path, bool excluded)
    {
        Assert.Equal(excluded, DockerIgnore.Load(Path.Combine(Root, ".dockerignore")).Excludes(path));
    }

    /// <summary>.dockerignore as Docker reads it: patterns from the context root, ** any directories, ! re-includes, the last match wins.</summary>
    internal sealed class DockerIgnore(List<(Regex Pattern, bool Include)> rules)
    {
        public static DockerIgnore Load(string path)
        {
            var rules = new List<(Regex, bool)>();
            foreach (var raw in File.ReadAllLines(path))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                bool include = line.StartsWith('!');
                var pattern = (include ? line[1..] : line).Trim('/');
                var regex = Regex.Escape(pattern).Replace(@"\*\*/", "(.*/)?").Replace(@"\*\*", ".*").Replace(@"\*", "[^/]*").Replace(@"\?", "[^/]");
                rules.Add((new Regex("^" + regex + "(/.*)?$"), include));
            }
            return new DockerIgnore(rules);
        }

        public bool Excludes(string relative)
        {
            bool excluded = false;
            foreach (var (pattern, include) in rules)
            {
                if (pattern.IsMatch(relative)) excluded = !include;
            }
            return excluded;
        }
    }
}
